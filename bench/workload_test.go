package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
)

// client is one simulated user agent, driven by one goroutine.
type client struct {
	id  int
	rng *rand.Rand
	seq uint64
	buf []byte
	// gen tells apart the clients of different runs on one table, so that
	// "new" tokens are new.
	gen uint64
	// newWant records, when checking, the data of each new token this
	// client committed (it is their only writer).
	newWant map[string]string
	// destroyed lists, when checking, the sessions this client logged out.
	destroyed []string
}

var clientGen atomic.Uint64

// newClients makes n clients.
func newClients(n int) []*client {
	gen := clientGen.Add(1)
	out := make([]*client, n)
	for id := range out {
		out[id] = &client{
			id:      id,
			rng:     rand.New(rand.NewPCG(gen, uint64(id))),
			buf:     make([]byte, payloadSize),
			gen:     gen,
			newWant: map[string]string{},
		}
	}
	return out
}

// slot is one session of a population. Clients draw slots uniformly from
// the whole population and hold a slot's lock for the op, so each session
// has one writer at a time and what it must hold is known exactly, and the
// draw stays uniform however the goroutines are scheduled.
type slot struct {
	mu    sync.Mutex
	token string // "" once logged out (Site)
	want  string // the data (or, for Site, the user) it must hold
}

type slots []slot

func newSlots(tokens []string, want string) slots {
	s := make(slots, len(tokens))
	for i, t := range tokens {
		s[i].token, s[i].want = t, want
	}
	return s
}

// lock returns a random slot, locked; the caller unlocks it.
func (s slots) lock(rng *rand.Rand) *slot {
	for {
		sl := &s[rng.IntN(len(s))]
		if sl.mu.TryLock() {
			return sl
		}
	}
}

// payload returns session data unique to this client and write; the
// buffer is reused (both stores copy it or send it before returning).
func (c *client) payload() []byte {
	c.seq++
	binary.LittleEndian.PutUint64(c.buf[0:], c.gen)
	binary.LittleEndian.PutUint64(c.buf[8:], uint64(c.id))
	binary.LittleEndian.PutUint64(c.buf[16:], c.seq)
	for i := 24; i < len(c.buf); i++ {
		c.buf[i] = byte(i)
	}
	return c.buf
}

// workload is one kind of traffic.
type workload interface {
	op(ctx context.Context, c *client) error
}

// readHeavy: 95% Find, 5% Commit, uniformly over live sessions.
type readHeavy struct {
	h      *handle
	slots  slots
	expiry time.Time
	check  bool // compare every Find with what the session must hold
}

func newReadHeavy(h *handle, tokens []string, blob []byte, expiry time.Time, check bool) *readHeavy {
	return &readHeavy{h: h, slots: newSlots(tokens, string(blob)), expiry: expiry, check: check}
}

func (w *readHeavy) op(ctx context.Context, c *client) error {
	sl := w.slots.lock(c.rng)
	defer sl.mu.Unlock()
	if c.rng.IntN(100) < 5 {
		p := c.payload()
		if err := w.h.Commit(sl.token, p, w.expiry); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if w.check {
			sl.want = string(p)
		}
		return nil
	}
	data, ok, err := w.h.Find(sl.token)
	if err != nil {
		return fmt.Errorf("find: %w", err)
	}
	if !ok {
		return fmt.Errorf("find %s: a live session was not found", sl.token)
	}
	if w.check && string(data) != sl.want {
		return fmt.Errorf("find %s: got %d bytes %x..., want %d bytes %x...", sl.token, len(data), head(data), len(sl.want), head([]byte(sl.want)))
	}
	return nil
}

// commitHeavy: every op commits, as when SCS renews an idle timeout on
// each request: half to a fixed set of tokens, half to new ones.
type commitHeavy struct {
	h      *handle
	e      *env
	repeat slots
	expiry time.Time
	check  bool // record what each token must hold
}

func newCommitHeavy(h *handle, e *env, repeat []string, check bool) *commitHeavy {
	return &commitHeavy{h: h, e: e, repeat: newSlots(repeat, ""), expiry: time.Now().Add(24 * time.Hour), check: check}
}

func (w *commitHeavy) op(ctx context.Context, c *client) error {
	p := c.payload()
	if c.rng.IntN(2) == 0 {
		sl := w.repeat.lock(c.rng)
		defer sl.mu.Unlock()
		if err := w.h.Commit(sl.token, p, w.expiry); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if w.check {
			sl.want = string(p)
		}
		return nil
	}
	tok := w.e.token(famNew, c.gen<<20|uint64(c.id), c.seq)
	if err := w.h.Commit(tok, p, w.expiry); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if w.check {
		c.newWant[tok] = string(p)
	}
	return nil
}

// site: HTTP requests through SCS's LoadAndSave: 80% reads, 15% writes,
// 5% logouts (Destroy). A slot whose session was logged out logs in again
// (a write without a cookie) the next time it is drawn.
type site struct {
	h       *handle
	handler http.Handler
	slots   slots
	check   bool // record the sessions destroyed
}

const cookieName = "session"

func newSite(h *handle, tokens []string, check bool) *site {
	sm := scs.New()
	sm.Store = h.Store
	sm.Lifetime = 24 * time.Hour
	sm.Cookie.Name = cookieName
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return &site{h: h, handler: sm.LoadAndSave(mux), slots: newSlots(tokens, "init"), check: check}
}

func (w *site) do(path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Cookie", cookieName+"="+token)
	}
	rec := httptest.NewRecorder()
	w.handler.ServeHTTP(rec, req)
	return rec
}

func (w *site) op(ctx context.Context, c *client) error {
	sl := w.slots.lock(c.rng)
	defer sl.mu.Unlock()
	r := c.rng.IntN(100)
	tok := sl.token
	switch {
	case tok == "" || r >= 80 && r < 95: // login, or a write
		c.seq++
		v := strconv.FormatUint(c.gen, 36) + "." + strconv.Itoa(c.id) + "." + strconv.FormatUint(c.seq, 36)
		rec := w.do("/write?v="+v, tok)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("write: status %d: %s", rec.Code, rec.Body)
		}
		got := sessionCookie(rec)
		if got == "" || tok != "" && got != tok {
			return fmt.Errorf("write: session cookie %q, want %q", got, tok)
		}
		sl.token, sl.want = got, v
	case r < 80:
		rec := w.do("/read", tok)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("read: status %d: %s", rec.Code, rec.Body)
		}
		if got := rec.Body.String(); got != sl.want {
			return fmt.Errorf("read %s: user %q, want %q", tok, got, sl.want)
		}
	default:
		rec := w.do("/logout", tok)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("logout: status %d: %s", rec.Code, rec.Body)
		}
		sl.token, sl.want = "", ""
		if w.check {
			c.destroyed = append(c.destroyed, tok)
		}
	}
	return nil
}

// sessionCookie returns the session token a response set, if any.
func sessionCookie(rec *httptest.ResponseRecorder) string {
	for _, sc := range rec.Header().Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, cookieName+"="); ok {
			if i := strings.IndexByte(v, ';'); i >= 0 {
				v = v[:i]
			}
			return v
		}
	}
	return ""
}

// runOps runs n ops of w spread over the clients (each client one
// goroutine, taking ops from a shared count) and returns the first error.
func runOps(ctx context.Context, clients []*client, n int64, w workload) error {
	if len(clients) == 1 {
		for i := int64(0); i < n; i++ {
			if err := w.op(ctx, clients[0]); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				if err := w.op(ctx, c); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("client %d: %w", c.id, err) })
					next.Store(n) // the others stop too
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// load runs w on the clients in the background until stop, counting ops.
type load struct {
	ops      atomic.Int64
	quit     chan struct{}
	wg       sync.WaitGroup
	errOnce  sync.Once
	firstErr error
}

func startLoad(ctx context.Context, clients []*client, w workload) *load {
	l := &load{quit: make(chan struct{})}
	for _, c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.quit:
					return
				default:
				}
				if err := w.op(ctx, c); err != nil {
					l.errOnce.Do(func() { l.firstErr = fmt.Errorf("client %d: %w", c.id, err) })
					return
				}
				l.ops.Add(1)
			}
		}()
	}
	return l
}

// stop ends the load, waits for its clients and returns the first error.
func (l *load) stop() error {
	close(l.quit)
	l.wg.Wait()
	return l.firstErr
}

// warm reads every token once, with as many goroutines as the pool has
// connections, so that a cache starts in its steady state.
func warm(ctx context.Context, h *handle, tokens []string) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range *flagPool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(tokens)) {
					return
				}
				if _, ok, err := h.Find(tokens[i]); err != nil || !ok {
					mu.Lock()
					errs = append(errs, fmt.Errorf("warm %s: found %v: %v", tokens[i], ok, err))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func head(b []byte) []byte { return b[:min(len(b), 24)] }
