package repository

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestCreateDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testStore.pool.Config().ConnConfig
	name := fmt.Sprintf("onboard_test_create_%d", time.Now().UnixNano())
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	t.Cleanup(func() {
		_, _ = testStore.pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})

	created, err := CreateDatabase(ctx, url)
	if err != nil || !created {
		t.Fatalf("CreateDatabase = %v, %v; want true, nil", created, err)
	}
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open of the created database: %v", err)
	}
	s.Close()
	created, err = CreateDatabase(ctx, url)
	if err != nil || created {
		t.Fatalf("CreateDatabase of an existing database = %v, %v; want false, nil", created, err)
	}
}
