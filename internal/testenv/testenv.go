// Package testenv gives tests real Postgres databases and Redis connections.
// Tests never mock either server: they use the ones named by
// TEST_DATABASE_URL and TEST_REDIS_URL (defaults: the local servers).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// AdminDatabaseURL is the server-level database tests create their own
// databases from.
func AdminDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis server tests use, without a database number.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return "redis://127.0.0.1:6379"
}

// NewDatabase creates a fresh, empty database for one test (or one package,
// when called from TestMain through NewDatabaseTB) and drops it when the test
// ends. It returns the new database's URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	dbURL, drop, err := CreateDatabase(context.Background(), "t")
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(drop)
	return dbURL
}

// CreateDatabase creates a fresh database whose name starts with prefix and
// returns its URL and a function that drops it. For TestMain, where there is
// no testing.TB.
func CreateDatabase(ctx context.Context, prefix string) (string, func(), error) {
	admin := AdminDatabaseURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to Postgres at %s (set TEST_DATABASE_URL): %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := "onboard_test_" + prefix + "_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// Redis returns a client on Redis database db, flushed before use and after
// the test. Give each test package its own db number (see the list in
// README's Development section) so packages can run in parallel.
func Redis(tb testing.TB, db int) (*redis.Client, string) {
	tb.Helper()
	u := fmt.Sprintf("%s/%d", RedisURL(), db)
	opt, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("testenv: parse %s: %v", u, err)
	}
	c := redis.NewClient(opt)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("testenv: Redis at %s (set TEST_REDIS_URL): %v", u, err)
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		tb.Fatalf("testenv: flush Redis db %d: %v", db, err)
	}
	tb.Cleanup(func() {
		c.FlushDB(context.Background())
		c.Close()
	})
	return c, u
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// IsolatedRedis returns the URL of Redis database db and a key prefix unique
// to this test, for work that must stay in Redis while other tests flush
// their own databases: give it to queue names and limiter keys. When the test
// ends, the keys under the prefix (asynq's included) are deleted and asynq's
// list of queues forgets the prefixed ones; nothing else in db is touched.
func IsolatedRedis(tb testing.TB, db int) (url, prefix string) {
	tb.Helper()
	url = fmt.Sprintf("%s/%d", RedisURL(), db)
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("testenv: parse %s: %v", url, err)
	}
	rc := redis.NewClient(opt)
	if err := rc.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("testenv: Redis at %s (set TEST_REDIS_URL): %v", url, err)
	}
	prefix = "t" + randomHex(4) + "-"
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, pattern := range []string{"asynq:{" + prefix + "*", prefix + "*"} {
			iter := rc.Scan(ctx, 0, pattern, 500).Iterator()
			for iter.Next(ctx) {
				rc.Del(ctx, iter.Val())
			}
		}
		iter := rc.SScan(ctx, "asynq:queues", 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rc.SRem(ctx, "asynq:queues", iter.Val())
		}
		rc.Close()
	})
	return url, prefix
}

// WaitFor polls cond until it holds, failing the test when timeout passes
// first. what says what was awaited.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
