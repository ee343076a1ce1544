package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Backup files are Badger's stream backup (DB.Backup, protobuf KVList records) wrapped in a
// small envelope so that a truncated or corrupted file is refused before anything is loaded:
//
//	"NXBK" | version byte (1) | Badger backup bytes | CRC-32C of those bytes (4 bytes BE) | "NXND"
//
// RestoreDir reads and verifies the whole file before it writes a single key.
const (
	backupMagic   = "NXBK"
	backupTrailer = "NXND"
	backupVersion = 1
)

// ErrBadBackup reports a backup file that is truncated, corrupted or not a backup.
var ErrBadBackup = errors.New("not a valid nextbest backup")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Backup writes a full backup of the store to w, as the store stood at one moment
// (writes may go on meanwhile). It stops with ctx's error once ctx is
// done (a signal to the CLI, a server shutting down).
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(ctxWriter{ctx, w})
	if _, err := bw.WriteString(backupMagic); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := bw.WriteByte(backupVersion); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	h := crc32.New(castagnoli)
	// One producer: Badger's stream opens a read transaction per producer goroutine, so
	// several (DB.Backup's default) read key ranges at different moments, and a backup
	// taken while the store is written would mix them (a journal counter ahead of the
	// events it counts: a restored store then refuses to open as damaged).
	stream := s.db.NewStream()
	stream.LogPrefix, stream.NumGo = "nextbest.Backup", 1
	if _, err := stream.Backup(io.MultiWriter(bw, h), 0); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var tail [8]byte
	sum := h.Sum32()
	tail[0], tail[1], tail[2], tail[3] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
	copy(tail[4:], backupTrailer)
	if _, err := bw.Write(tail[:]); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// ctxWriter fails every write once ctx is done; Badger's backup stream takes no context.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// VerifyBackup reads a whole backup and checks its envelope and checksum. It returns the
// Badger payload.
func VerifyBackup(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read backup: %w", err)
	}
	if len(data) < len(backupMagic)+1+8 || string(data[:4]) != backupMagic {
		return nil, fmt.Errorf("%w: missing header (truncated or not a backup file)", ErrBadBackup)
	}
	if data[4] != backupVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrBadBackup, data[4], backupVersion)
	}
	if string(data[len(data)-4:]) != backupTrailer {
		return nil, fmt.Errorf("%w: missing trailer (the file is truncated)", ErrBadBackup)
	}
	payload := data[5 : len(data)-8]
	t := data[len(data)-8:]
	want := uint32(t[0])<<24 | uint32(t[1])<<16 | uint32(t[2])<<8 | uint32(t[3])
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("%w: checksum mismatch (%08x, want %08x): the file is corrupted", ErrBadBackup, got, want)
	}
	return payload, nil
}
