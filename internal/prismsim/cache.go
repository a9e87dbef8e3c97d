package prismsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// CacheConfig scripts the fake of GitHub's Actions cache service (v2,
// Twirp JSON) that the simulator serves beside the API, at
// /twirp/github.actions.results.api.v1.CacheService/<Method>, with the
// entries' bytes behind signed URLs at /cache-blob/. Point
// ACTIONS_RESULTS_URL at the simulator's root to use it.
type CacheConfig struct {
	// Faults: "unavailable" answers 503 to every call; "throttled" answers
	// 429 (Retry-After: 1) to the first try of every call; "upload_fails"
	// answers 500 to every upload; "download_fails" answers 503 to every
	// download of an entry's bytes; "create_not_ok" and "get_not_ok"
	// answer {"ok": false} to CreateCacheEntry and
	// GetCacheEntryDownloadURL.
	Faults []string `json:"faults,omitempty"`
}

// cacheFaults are the names CacheConfig.Faults accepts.
var cacheFaults = []string{"unavailable", "throttled", "upload_fails", "download_fails", "create_not_ok", "get_not_ok"}

const cacheService = "/twirp/github.actions.results.api.v1.CacheService/"

// CacheEntry is one finalised entry of the fake cache service.
type CacheEntry struct {
	Key, Version string
	Data         []byte
}

// cacheSim is the fake cache service's state.
type cacheSim struct {
	mu       sync.Mutex
	reserved map[string]*cacheSlot // by key
	calls    map[string]int        // Twirp calls by method, throttled ones too
	seen     map[string]bool       // method+body already throttled once
	uploads  int
}

type cacheSlot struct {
	version   string
	data      []byte
	uploaded  bool
	finalized bool
}

func (c *cacheSim) init() {
	if c.reserved == nil {
		c.reserved, c.calls, c.seen = map[string]*cacheSlot{}, map[string]int{}, map[string]bool{}
	}
}

// CacheEntries returns the finalised entries of the fake cache service.
func (s *Server) CacheEntries() []CacheEntry {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	var out []CacheEntry
	for _, k := range slices.Sorted(maps.Keys(c.reserved)) {
		if e := c.reserved[k]; e.finalized {
			out = append(out, CacheEntry{Key: k, Version: e.version, Data: append([]byte(nil), e.data...)})
		}
	}
	return out
}

// PutCacheEntry stores a finalised entry, as an earlier attempt would have.
func (s *Server) PutCacheEntry(e CacheEntry) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.reserved[e.Key] = &cacheSlot{version: e.Version, data: e.Data, uploaded: true, finalized: true}
}

// ReserveCacheEntry reserves key without finishing the entry, as an
// attempt that died between CreateCacheEntry and its upload leaves it.
func (s *Server) ReserveCacheEntry(key, version string) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.reserved[key] = &cacheSlot{version: version}
}

// DropCacheEntry removes an entry, as if the attempt that was to write it
// had died first.
func (s *Server) DropCacheEntry(key string) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reserved, key)
}

// CacheCalls returns how many Twirp calls of method the fake answered.
func (s *Server) CacheCalls(method string) int {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

func (s *Server) cacheFault(name string) bool {
	return s.scenario.Cache != nil && has(s.scenario.Cache.Faults, name)
}

// twirp answers one call of the fake cache service.
func (s *Server) twirp(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, cacheService)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.calls[method]++
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case r.Method != http.MethodPost:
		twirpError(w, http.StatusMethodNotAllowed, "bad_route", "Twirp calls are POSTs")
		return
	case strings.TrimSpace(tok) == "":
		twirpError(w, http.StatusUnauthorized, "unauthenticated", "missing runtime token")
		return
	case s.cacheFault("unavailable"):
		twirpError(w, http.StatusServiceUnavailable, "unavailable", "cache service unavailable")
		return
	case s.cacheFault("throttled") && !c.seen[method+string(body)]:
		c.seen[method+string(body)] = true
		w.Header().Set("Retry-After", "1")
		twirpError(w, http.StatusTooManyRequests, "resource_exhausted", "too many requests")
		return
	}
	var in struct {
		Key     string `json:"key"`
		Version string `json:"version"`
		Size    string `json:"size_bytes"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Key == "" || in.Version == "" || len(in.Key) > 512 || strings.Contains(in.Key, ",") {
		twirpError(w, http.StatusBadRequest, "invalid_argument", "key (at most 512 characters, no commas) and version are required")
		return
	}
	slot := c.reserved[in.Key]
	switch method {
	case "CreateCacheEntry":
		if slot != nil || s.cacheFault("create_not_ok") {
			twirpJSON(w, map[string]any{"ok": false, "signed_upload_url": ""})
			return
		}
		c.reserved[in.Key] = &cacheSlot{version: in.Version}
		twirpJSON(w, map[string]any{"ok": true, "signed_upload_url": s.cacheURL(r, in.Key)})
	case "FinalizeCacheEntryUpload":
		size, err := strconv.Atoi(in.Size)
		if slot == nil || slot.finalized || !slot.uploaded || slot.version != in.Version || err != nil || size != len(slot.data) {
			twirpJSON(w, map[string]any{"ok": false, "entry_id": "0"})
			return
		}
		slot.finalized = true
		twirpJSON(w, map[string]any{"ok": true, "entry_id": strconv.Itoa(len(c.reserved))})
	case "GetCacheEntryDownloadURL":
		if slot == nil || !slot.finalized || slot.version != in.Version || s.cacheFault("get_not_ok") {
			twirpJSON(w, map[string]any{"ok": false, "signed_download_url": "", "matched_key": ""})
			return
		}
		twirpJSON(w, map[string]any{"ok": true, "signed_download_url": s.cacheURL(r, in.Key), "matched_key": in.Key})
	default:
		twirpError(w, http.StatusNotFound, "bad_route", "no such method "+method)
	}
}

// cacheURL signs the blob URL of key, as the service hands out Azure SAS URLs.
func (s *Server) cacheURL(r *http.Request, key string) string {
	return fmt.Sprintf("http://%s/cache-blob/%s?sig=%s", r.Host, hex.EncodeToString([]byte(key)), s.cacheSig(key))
}

func (s *Server) cacheSig(key string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("cache\x00" + key))
	return hex.EncodeToString(m.Sum(nil))
}

// blob stores (PUT) or serves (GET) an entry's bytes at its signed URL.
// Like Azure storage behind a SAS URL, it refuses a request carrying an
// Authorization header: the runtime token must not go there.
func (s *Server) blob(w http.ResponseWriter, r *http.Request) {
	raw, err := hex.DecodeString(strings.TrimPrefix(r.URL.Path, "/cache-blob/"))
	key := string(raw)
	switch {
	case err != nil || !hmac.Equal([]byte(r.URL.Query().Get("sig")), []byte(s.cacheSig(key))):
		http.Error(w, "AuthenticationFailed", http.StatusForbidden)
		return
	case r.Header.Get("Authorization") != "":
		http.Error(w, "InvalidAuthenticationInfo: a SAS URL takes no Authorization header", http.StatusBadRequest)
		return
	}
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	slot := c.reserved[key]
	switch {
	case slot == nil:
		http.Error(w, "BlobNotFound", http.StatusNotFound)
	case r.Method == http.MethodPut:
		c.uploads++
		if s.cacheFault("upload_fails") {
			http.Error(w, "InternalError", http.StatusInternalServerError)
			return
		}
		if r.Header.Get("x-ms-blob-type") != "BlockBlob" || slot.finalized {
			http.Error(w, "InvalidHeaderValue: x-ms-blob-type", http.StatusBadRequest)
			return
		}
		slot.data, _ = io.ReadAll(io.LimitReader(r.Body, 64<<10))
		slot.uploaded = true
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet && slot.finalized && s.cacheFault("download_fails"):
		http.Error(w, "ServerBusy", http.StatusServiceUnavailable)
	case r.Method == http.MethodGet && slot.finalized:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(slot.data)
	default:
		http.Error(w, "BlobNotFound", http.StatusNotFound)
	}
}

func twirpJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func twirpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "msg": msg})
}
