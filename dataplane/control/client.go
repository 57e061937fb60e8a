package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// Client talks to a control server over its unix socket.
type Client struct {
	path string
	http *http.Client
}

// Dial connects to the control socket at path (DefaultSocket when empty)
// to check that a server answers there, and returns a client for it.
func Dial(path string) (*Client, error) {
	if path == "" {
		path = DefaultSocket
	}
	c := &Client{path: path}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.dial(ctx)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 30 * time.Second,
	}
	c.http = &http.Client{Transport: tr}
	conn, err := c.dial(context.Background())
	if err != nil {
		return nil, err
	}
	conn.Close()
	return c, nil
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err == nil {
		return conn, nil
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("control socket %s does not exist: is statewalld running? (-S gives another path)", c.path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("control socket %s: connection refused: statewalld is not running", c.path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("control socket %s: permission denied: only its owner may use it (run as root?)", c.path)
	}
	return nil, fmt.Errorf("control socket %s: %w", c.path, err)
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// APIError is an error the server answered with.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the server's message
}

// Error returns the server's message.
func (e *APIError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	return c.doAccept(ctx, method, path, q, "application/json")
}

func (c *Client) doAccept(ctx context.Context, method, path string, q url.Values, accept string) (*http.Response, error) {
	u := "http://statewall" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var er errorReply
		if json.Unmarshal(body, &er) == nil && er.Error != "" {
			return nil, &APIError{Status: resp.StatusCode, Message: er.Error}
		}
		return nil, &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))}
	}
	return resp, nil
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, method, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control %s: bad answer: %w", path, err)
	}
	return nil
}

// Status samples the engine twice, interval apart, and returns its state
// with the rates in between.
func (c *Client) Status(ctx context.Context, interval time.Duration) (*Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, pathStatus, url.Values{"interval": {interval.String()}}, &st)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// List streams the entries that pass the filter to fn, one at a time; the
// Entry is only valid during the call. It returns fn's error, the
// server's, or an error if the stream ended early.
func (c *Client) List(ctx context.Context, f Filter, fn func(*Entry) error) (int, error) {
	resp, err := c.doAccept(ctx, http.MethodGet, pathConntrack, f.Values(), wireMediaType)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == wireMediaType {
		return listWire(resp.Body, fn)
	}
	return listJSON(resp.Body, fn)
}

func listWire(r io.Reader, fn func(*Entry) error) (int, error) {
	wr := newWireReader(r)
	var e Entry
	n := 0
	for {
		done, count, err := wr.next(&e)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				return n, err
			}
			return n, fmt.Errorf("conntrack list: stream ended early after %d entries: %w", n, err)
		}
		if done {
			if count != uint64(n) {
				return n, fmt.Errorf("conntrack list: server sent %d entries, received %d", count, n)
			}
			return n, nil
		}
		if err := fn(&e); err != nil {
			return n, err
		}
		n++
	}
}

func listJSON(r io.Reader, fn func(*Entry) error) (int, error) {
	dec := json.NewDecoder(r)
	n := 0
	var frame listFrame
	for {
		// Decoding into a slice reuses its elements without zeroing them,
		// and omitted fields would keep the previous chunk's values.
		reuse := frame.Entries[:cap(frame.Entries)]
		clear(reuse)
		frame = listFrame{Entries: reuse[:0]}
		if err := dec.Decode(&frame); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("conntrack list: stream ended early after %d entries: %w", n, err)
		}
		if frame.Error != "" {
			return n, &APIError{Status: http.StatusOK, Message: frame.Error}
		}
		for i := range frame.Entries {
			if err := fn(&frame.Entries[i]); err != nil {
				return n, err
			}
			n++
		}
		if frame.Done {
			if frame.Count != n {
				return n, fmt.Errorf("conntrack list: server sent %d entries, received %d", frame.Count, n)
			}
			return n, nil
		}
	}
}

// Count returns the number of tracked connections.
func (c *Client) Count(ctx context.Context) (int, error) {
	var r countReply
	err := c.call(ctx, http.MethodGet, pathCount, nil, &r)
	return r.Count, err
}

// Flush removes the entries that pass the filter (all for a zero filter)
// and returns how many were removed.
func (c *Client) Flush(ctx context.Context, f Filter) (int, error) {
	var r countReply
	err := c.call(ctx, http.MethodPost, pathFlush, f.Values(), &r)
	return r.Count, err
}

// Rules returns the ruleset in force with its counters.
func (c *Client) Rules(ctx context.Context) (*Rules, error) {
	var r Rules
	if err := c.call(ctx, http.MethodGet, pathRules, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Reload asks the daemon to reload its configuration and returns the new
// ruleset generation, or why the reload failed.
func (c *Client) Reload(ctx context.Context) (uint64, error) {
	var r ReloadResult
	err := c.call(ctx, http.MethodPost, pathReload, nil, &r)
	return r.Generation, err
}
