package main

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
)

// The -json output of check and stats: one JSON object on one line, its
// field names stable, for monitoring and deployment scripts.

// checkJSON is check's -json output.
type checkJSON struct {
	Table     string        `json:"table"`
	TableType string        `json:"table_type"`
	User      string        `json:"user,omitempty"` // check -user's database user, unquoted
	Failed    bool          `json:"failed"`         // an error-level finding: exit status 1
	Findings  []findingJSON `json:"findings"`
}

type findingJSON struct {
	Level   string `json:"level"` // "ok", "warning" or "error"
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

func writeCheckJSON(w io.Writer, table, tableType, user string, findings []schemacheck.Finding) error {
	out := checkJSON{Table: table, TableType: tableType, User: user, Failed: schemacheck.Failed(findings), Findings: []findingJSON{}}
	for _, f := range findings {
		out.Findings = append(out.Findings, findingJSON{Level: f.Level.String(), Message: f.Message, Fix: f.Fix})
	}
	return json.NewEncoder(w).Encode(out)
}

// statsJSON is stats' -json output. Sizes are in KiB, as sp_spaceused
// reports them; Size is null, and SizeError says why, when sp_spaceused
// could not run. The expiries are RFC 3339 in UTC, null for an empty
// table.
type statsJSON struct {
	Table        string     `json:"table"`
	Live         int64      `json:"live"`
	Expired      int64      `json:"expired"`
	Size         *sizeJSON  `json:"size"`
	SizeError    string     `json:"size_error,omitempty"`
	OldestExpiry *time.Time `json:"oldest_expiry"`
	NewestExpiry *time.Time `json:"newest_expiry"`
}

type sizeJSON struct {
	Rows       int64 `json:"rows"`
	ReservedKB int64 `json:"reserved_kb"`
	DataKB     int64 `json:"data_kb"`
	IndexKB    int64 `json:"index_kb"`
	UnusedKB   int64 `json:"unused_kb"`
}

func writeStatsJSON(w io.Writer, table string, st schemacheck.Stats) error {
	out := statsJSON{Table: table, Live: st.Live, Expired: st.Expired}
	if st.SizeErr != nil {
		out.SizeError = message(st.SizeErr)
	} else if size, ok := parseSize(st.Size); ok {
		out.Size = &size
	} else {
		out.SizeError = "sp_spaceused returned figures that are not numbers of KB: " + st.Size.Reserved
	}
	if !st.Oldest.IsZero() {
		oldest, newest := st.Oldest.UTC(), st.Newest.UTC()
		out.OldestExpiry, out.NewestExpiry = &oldest, &newest
	}
	return json.NewEncoder(w).Encode(out)
}

// parseSize reads sp_spaceused's figures: rows as a number, sizes as
// "72 KB".
func parseSize(s schemacheck.Size) (sizeJSON, bool) {
	var out sizeJSON
	var err error
	if out.Rows, err = strconv.ParseInt(strings.TrimSpace(s.Rows), 10, 64); err != nil {
		return out, false
	}
	for _, f := range []struct {
		in  string
		out *int64
	}{{s.Reserved, &out.ReservedKB}, {s.Data, &out.DataKB}, {s.IndexSize, &out.IndexKB}, {s.Unused, &out.UnusedKB}} {
		n, ok := strings.CutSuffix(strings.TrimSpace(f.in), " KB")
		if !ok {
			return out, false
		}
		if *f.out, err = strconv.ParseInt(n, 10, 64); err != nil {
			return out, false
		}
	}
	return out, true
}
