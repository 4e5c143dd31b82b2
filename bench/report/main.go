// Command report reads the output of the benchmarks in this module and
// prints a markdown table of the figures and of the ratios the project
// targets:
//
//	go test -bench . -benchmem -run '^$' | tee results.txt | go run ./report
//
// With -count above 1, each figure is the mean of the runs.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is the mean of each unit over the lines of one benchmark.
type result map[string]float64

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) (map[string]result, []string, error) {
	sums := map[string]map[string]float64{}
	counts := map[string]map[string]int{}
	var header []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, p := range []string{"goos:", "goarch:", "cpu:", "pkg:"} {
			if strings.HasPrefix(line, p) {
				header = append(header, line)
			}
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		if sums[name] == nil {
			sums[name], counts[name] = map[string]float64{}, map[string]int{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%q: %v", line, err)
			}
			sums[name][f[i+1]] += v
			counts[name][f[i+1]]++
		}
	}
	out := map[string]result{}
	for name, s := range sums {
		out[name] = result{}
		for unit, v := range s {
			out[name][unit] = v / float64(counts[name][unit])
		}
	}
	return out, header, sc.Err()
}

var stores = []string{"upstream", "writethrough", "cache", "batch", "both"}

func key(workload string, clients int, store string) string {
	return fmt.Sprintf("Benchmark%s/clients=%d/store=%s", workload, clients, store)
}

func num(v float64, ok bool) string {
	switch {
	case !ok:
		return "–"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
}

func (r result) get(unit string) (float64, bool) {
	v, ok := r[unit]
	return v, ok
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func run(in io.Reader, w io.Writer) error {
	res, header, err := parse(in)
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return fmt.Errorf("no benchmark lines in the input")
	}
	for _, h := range header {
		fmt.Fprintf(w, "    %s\n", h)
	}
	var targets [][]string
	target := func(name, measured string, ok bool) {
		targets = append(targets, []string{name, measured, yes(ok)})
	}

	for _, wl := range []string{"ReadHeavy", "CommitHeavy", "Site"} {
		for _, n := range []int{1, 64} {
			up, haveUp := res[key(wl, n, "upstream")]
			if !haveUp {
				continue
			}
			fmt.Fprintf(w, "\n### %s, %d client(s)\n\n", wl, n)
			fmt.Fprintln(w, "| store | ns/op | e2e-ns/op | ops/s | × upstream | rt/op | rows/flush | hit-rate | B/op | allocs/op |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
			upOps := up["ops/s"]
			for _, s := range stores {
				r, ok := res[key(wl, n, s)]
				if !ok {
					continue
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s,
					num(r.get("ns/op")), num(r.get("e2e-ns/op")), num(r.get("ops/s")),
					num(r["ops/s"]/upOps, upOps > 0), num(r.get("rt/op")), num(r.get("rows/flush")),
					num(r.get("hit-rate")), num(r.get("B/op")), num(r.get("allocs/op")))
			}
			if wt, ok := res[key(wl, n, "writethrough")]; ok && upOps > 0 {
				ratio := wt["ops/s"] / upOps
				target(fmt.Sprintf("%s, %d client(s): writethrough within 10%% of upstream", wl, n),
					fmt.Sprintf("%.2f× upstream's ops/s", ratio), ratio >= 0.9)
			}
			switch wl {
			case "CommitHeavy":
				if n != 64 {
					break
				}
				for _, s := range []string{"batch", "both"} {
					r, ok := res[key(wl, n, s)]
					if !ok {
						continue
					}
					speed := r["ops/s"] / upOps
					target(fmt.Sprintf("CommitHeavy, 64 clients, %s: e2e throughput ≥ 10× upstream", s),
						fmt.Sprintf("%.1f×", speed), speed >= 10)
					if upRT, rt := up["rt/op"], r["rt/op"]; upRT > 0 {
						target(fmt.Sprintf("CommitHeavy, 64 clients, %s: round trips/op ≤ 1/20 of upstream's", s),
							fmt.Sprintf("%.4f vs %.4f (1/%.0f)", rt, upRT, upRT/rt), rt*20 <= upRT)
					}
				}
			case "ReadHeavy":
				for _, s := range []string{"cache", "both"} {
					r, ok := res[key(wl, n, s)]
					h, hasH := r["hit-rate"]
					if !ok || !hasH || h >= 1 {
						continue
					}
					bound := 1 / (1 - h)
					speed := r["ops/s"] / upOps
					measured := fmt.Sprintf("h=%.3f, bound %.1f×, got %.1f× = %.0f%% of it", h, bound, speed, 100*speed/bound)
					if rt := r["rt/op"]; rt > 0 && up["rt/op"] > 0 {
						// The bound the round trips allow: commits that
						// write through also reach the server.
						measured += fmt.Sprintf(" (round trips allow %.1f×)", up["rt/op"]/rt)
					}
					target(fmt.Sprintf("ReadHeavy, %d client(s), %s: ≥ 80%% of the bound 1/(1-h)", n, s), measured, speed >= 0.8*bound)
				}
			}
		}
	}

	if r, ok := res["BenchmarkFindCacheHit"]; ok {
		fmt.Fprintf(w, "\n### FindCacheHit\n\n| ns/op | B/op | allocs/op |\n|---:|---:|---:|\n| %s | %s | %s |\n",
			num(r.get("ns/op")), num(r.get("B/op")), num(r.get("allocs/op")))
		target("Find that hits the cache: ≤ 2 allocs/op", num(r.get("allocs/op")), r["allocs/op"] <= 2)
	}

	var cleanup []string
	for name := range res {
		if strings.HasPrefix(name, "BenchmarkCleanupUnderLoad/") {
			cleanup = append(cleanup, name)
		}
	}
	slices.Sort(cleanup)
	if len(cleanup) > 0 {
		fmt.Fprintln(w, "\n### CleanupUnderLoad (100,000 expired rows purged under the read-heavy load)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| case | purge ns | ops/s without | ops/s during | during/without | max rows/DELETE | batch limit |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, name := range cleanup {
			r := res[name]
			c := strings.TrimPrefix(name, "BenchmarkCleanupUnderLoad/")
			base, during := r["ops/s-base"], r["ops/s-purge"]
			ratio := during / base
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", c, num(r.get("ns/op")), num(base, true), num(during, true),
				num(ratio, base > 0), num(r.get("max-rows/delete")), num(r.get("batch-limit")))
			if strings.HasSuffix(c, "store=upstream") {
				continue
			}
			if lim, ok := r["batch-limit"]; ok {
				if mx, ok := r["max-rows/delete"]; ok {
					target(c+": no DELETE above the cleanup batch", fmt.Sprintf("%.0f ≤ %.0f", mx, lim), mx <= lim)
				}
			}
			target(c+": throughput during the purge within 20% of without", fmt.Sprintf("%.2f", ratio), base > 0 && ratio >= 0.8)
		}
	}

	invalidation(w, res, target)

	fmt.Fprintln(w, "\n### Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, t := range targets {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t[0], t[1], t[2])
	}
	return nil
}

// names returns the benchmarks whose name begins with prefix, sorted.
func names(res map[string]result, prefix string) []string {
	var out []string
	for name := range res {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// invalidation prints the tables of the cross-instance invalidation
// benchmarks (bench/invalidation_test.go) and adds their targets.
func invalidation(w io.Writer, res map[string]result, target func(name, measured string, ok bool)) {
	const rh = "BenchmarkInvalidationReadHeavy/"
	for _, n := range []int{1, 64} {
		prefix := fmt.Sprintf("%sclients=%d/", rh, n)
		cases := names(res, prefix)
		base, haveBase := res[prefix+"instances=1/invalidation=off"]
		if len(cases) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### Invalidation, read-heavy, %d client(s)\n\n", n)
		fmt.Fprintln(w, "| case | ops/s | × 1 instance, off | hit-% | stale-% | gated-% | polls/s/instance | invalidations/s/instance | rt/op |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, name := range cases {
			r := res[name]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(name, prefix),
				num(r.get("ops/s")), num(r["ops/s"]/base["ops/s"], haveBase && base["ops/s"] > 0),
				num(r.get("hit-%")), num(r.get("stale-%")), num(r.get("gated-%")), num(r.get("polls/s/instance")),
				num(r.get("invalidations/s/instance")), num(r.get("rt/op")))
		}
		if on, ok := res[prefix+"instances=2/invalidation=on"]; ok && haveBase {
			h1, h2 := base["hit-%"], on["hit-%"]
			target(fmt.Sprintf("Invalidation, %d client(s): two instances' hit rate within 5 points of one instance's", n),
				fmt.Sprintf("%.1f%% vs %.1f%%", h2, h1), h2 >= h1-5)
		}
	}

	if st := names(res, "BenchmarkInvalidationStaleness/"); len(st) > 0 {
		fmt.Fprintln(w, "\n### Invalidation, staleness (A's change returned → B's first Find without the old value)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| case | p50 ms | p99 ms | max ms | last old value at, max ms | old value after the bound | bound ms | polls/s/instance |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, name := range st {
			r := res[name]
			c := strings.TrimPrefix(name, "BenchmarkInvalidationStaleness/")
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c,
				num(r.get("stale-p50-ms")), num(r.get("stale-p99-ms")), num(r.get("stale-max-ms")),
				num(r.get("last-old-max-ms")), num(r.get("old-after-bound")), num(r.get("bound-ms")),
				num(r.get("polls/s/instance")))
			if over, ok := r["old-after-bound"]; ok {
				target(c+": B never returned the old value from a Find started a bound after A's change", num(over, true), over == 0)
			}
		}
	}

	const jc = "BenchmarkJournalCost/"
	if offs := names(res, jc); len(offs) > 0 {
		fmt.Fprintln(w, "\n### What the journal costs writes (one instance)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| case | ops/s off | ops/s on | on/off | delete p50 ms off / on | delete p99 ms off / on | B/op off / on |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, name := range offs {
			c, ok := strings.CutSuffix(strings.TrimPrefix(name, jc), "/invalidation=off")
			if !ok {
				continue
			}
			off := res[name]
			on, ok := res[jc+c+"/invalidation=on"]
			if !ok {
				continue
			}
			pair := func(unit string) string {
				a, okA := off.get(unit)
				b, okB := on.get(unit)
				if !okA && !okB {
					return "–"
				}
				return num(a, okA) + " / " + num(b, okB)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", c, num(off.get("ops/s")), num(on.get("ops/s")),
				num(on["ops/s"]/off["ops/s"], off["ops/s"] > 0), pair("delete-p50-ms"), pair("delete-p99-ms"), pair("B/op"))
		}
	}
}
