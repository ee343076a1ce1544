package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoSnapshot is returned by LatestSnapshot when the store holds no snapshot.
var ErrNoSnapshot = errors.New("no snapshot")

// snapshotPrefix starts every snapshot object's name; the stream sequence follows,
// zero-padded to 20 digits so that names sort as sequences do.
const snapshotPrefix = "snapshot-"

// keptSnapshots is how many snapshots PutSnapshot keeps: the new one and the one before,
// so that a replica reading the previous one while a new one lands can still finish.
const keptSnapshots = 2

// snapshotName is the object name of the snapshot at seq.
func snapshotName(seq uint64) string { return fmt.Sprintf("%s%020d", snapshotPrefix, seq) }

// PutSnapshot stores the snapshot r of the state after applying the stream up to seq
// (with "seq" in its metadata), then deletes all but the newest keptSnapshots.
//
// Each snapshot is an object of its own rather than new contents under one name. An
// object store put publishes the chunks under a fresh id and then, last, the object's
// meta message, which is the only thing readers find the object by, so a put is atomic
// for readers that start after it; but re-putting one name purges the old chunks
// right after, under a reader that began before. A put that fails part way removes its
// chunks, and the previous snapshot is untouched.
func PutSnapshot(ctx context.Context, obs jetstream.ObjectStore, seq uint64, r io.Reader) error {
	name := snapshotName(seq)
	meta := jetstream.ObjectMeta{
		Name:     name,
		Metadata: map[string]string{"seq": strconv.FormatUint(seq, 10)},
	}
	if _, err := obs.Put(ctx, meta, r); err != nil {
		return fmt.Errorf("put snapshot %d: %w", seq, err)
	}
	seqs, err := snapshots(ctx, obs)
	if err != nil {
		return fmt.Errorf("put snapshot %d: list older: %w", seq, err)
	}
	for _, old := range seqs[min(keptSnapshots, len(seqs)):] {
		if err := obs.Delete(ctx, snapshotName(old)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("put snapshot %d: delete snapshot %d: %w", seq, old, err)
		}
	}
	return nil
}

// LatestSnapshot opens the snapshot with the highest sequence and returns that sequence
// with a reader of its contents, which the caller closes; reading to the end verifies
// the object's SHA-256 digest (a mismatch is a read error). ErrNoSnapshot if none.
func LatestSnapshot(ctx context.Context, obs jetstream.ObjectStore) (uint64, io.ReadCloser, error) {
	seqs, err := snapshots(ctx, obs)
	if err != nil {
		return 0, nil, fmt.Errorf("latest snapshot: %w", err)
	}
	if len(seqs) == 0 {
		return 0, nil, ErrNoSnapshot
	}
	// nats.go bounds a Get whose context has no deadline by its default API timeout
	// (5 s) for the whole download, which a snapshot of a large store outlasts: the read
	// gets a deadline of its own, which Close releases.
	gctx, cancel := context.WithTimeout(ctx, downloadMax)
	res, err := obs.Get(gctx, snapshotName(seqs[0]))
	if err != nil {
		cancel()
		return 0, nil, fmt.Errorf("latest snapshot %d: %w", seqs[0], err)
	}
	return seqs[0], &download{ReadCloser: res, cancel: cancel}, nil
}

// downloadMax bounds the download of one snapshot.
const downloadMax = time.Hour

// download is a snapshot being read; Close also ends its context.
type download struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the reader and releases its context.
func (d *download) Close() error {
	err := d.ReadCloser.Close()
	d.cancel()
	return err
}

// listWait bounds how long snapshots waits for the object store to answer.
const listWait = 30 * time.Second

// snapshots lists the sequences of the stored snapshots, newest first. An empty store is
// recognised by its size first: nats.go's List (v1.56) waits until its context ends on an
// empty store whose first request failed (a new R3 stream without a leader yet), which
// held a new replica's start for good (TestSharedLearning under -race).
func snapshots(ctx context.Context, obs jetstream.ObjectStore) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, listWait)
	defer cancel()
	var (
		st  jetstream.ObjectStoreStatus
		err error
	)
	for {
		if st, err = obs.Status(ctx); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("object store status: %w", err)
	}
	if st.Size() == 0 {
		return nil, nil
	}
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, info := range infos {
		if info.Deleted || !strings.HasPrefix(info.Name, snapshotPrefix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimPrefix(info.Name, snapshotPrefix), 10, 64)
		if err != nil {
			continue // not ours
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	slices.Reverse(seqs)
	return seqs, nil
}
