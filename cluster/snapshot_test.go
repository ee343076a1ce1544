package cluster

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestSnapshot round-trips snapshots through an R1 object store on one server: none
// at first, the newest by sequence afterwards (not the last put), bytes intact across
// several chunks, and only the newest two kept.
func TestSnapshot(t *testing.T) {
	c := StartTestCluster(t, 1)
	_, _, r := connect(t, c, 0)
	ctx := t.Context()

	if _, _, err := LatestSnapshot(ctx, r.Snapshots); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("empty store: %v, want ErrNoSnapshot", err)
	}
	// 300 KiB: more than two of the object store's 128 KiB chunks.
	body := func(seed uint64) []byte {
		b := make([]byte, 300<<10)
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, seq := range []uint64{10, 30, 20} { // 20 last: a late writer's older snapshot
		if err := PutSnapshot(ctx, r.Snapshots, seq, bytes.NewReader(body(seq))); err != nil {
			t.Fatal(err)
		}
	}
	seq, rc, err := LatestSnapshot(ctx, r.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if seq != 30 || !bytes.Equal(got, body(30)) {
		t.Fatalf("latest: seq %d, %d bytes (equal to snapshot 30's: %v); want seq 30", seq, len(got), bytes.Equal(got, body(30)))
	}
	seqs, err := snapshots(ctx, r.Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 2 || seqs[0] != 30 || seqs[1] != 20 {
		t.Fatalf("kept snapshots %v, want [30 20]", seqs)
	}
	info, err := r.Snapshots.GetInfo(ctx, snapshotName(30))
	if err != nil || info.Metadata["seq"] != "30" {
		t.Fatalf("snapshot 30's metadata: %v, %v; want seq 30", info, err)
	}
}
