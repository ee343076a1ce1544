package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// What the journal says it holds, checked at start-up against what replay read
// (verifyJournal): a store can lose records in ways that leave what remains readable (a
// table or a log Badger dropped, a block an iterator stops at), and models rebuilt from
// such a journal would silently lack what they learned.
const (
	// settingHead holds the sequence of the last event committed, written with every
	// group commit of events.
	settingHead = "journal_head"
	// settingModels holds the newest stored version of every model, as a JSON object,
	// written with every snapshot.
	settingModels = "models"
)

// replayTally is what the journal's replay at start-up read: events after the checkpoint,
// which must follow each other with no gap (every event commit takes the next numbers,
// and a failed one is continued after what the store holds: committer.resume).
type replayTally struct {
	from   uint64 // the checkpoint
	last   uint64 // the last sequence read; from if none
	n      int
	gapLo  uint64 // the first missing range, if any
	gapHi  uint64
	hasGap bool
}

func (t *replayTally) see(seq uint64) {
	if seq != t.last+1 && !t.hasGap {
		t.gapLo, t.gapHi, t.hasGap = t.last+1, seq-1, true
	}
	t.last = seq
	t.n++
}

// verifyJournal compares what replay read with what the store says it holds: no gap in
// the journal after the checkpoint, replay read up to the journal's last event (last)
// and up to the last event committed (settingHead), and every model's newest snapshot
// is the one last stored (settingModels). Stores written before these settings existed
// are checked for what they have. Any damage is an error wrapping ErrDamaged.
func (e *Engine) verifyJournal(ctx context.Context, t replayTally, last uint64) error {
	var damage []string
	if t.hasGap {
		damage = append(damage, fmt.Sprintf("journal events %d to %d are missing (after the checkpoint %d, replay read %d events, up to %d)", t.gapLo, t.gapHi, t.from, t.n, t.last))
	}
	if last > t.last {
		damage = append(damage, fmt.Sprintf("the journal's last event is %d but replay read events only up to %d: events %d to %d do not read back", last, t.last, t.last+1, last))
	}
	head, err := e.store.Setting(ctx, settingHead)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return fmt.Errorf("read the journal head: %w", err)
	default:
		h, err := strconv.ParseUint(string(head), 10, 64)
		if err != nil {
			damage = append(damage, fmt.Sprintf("the journal head %q does not read as a sequence number", head))
		} else if h > max(t.last, t.from) {
			damage = append(damage, fmt.Sprintf("events up to %d were committed but the journal holds events only up to %d: events %d to %d, which no model snapshot covers (checkpoint %d), are missing", h, max(last, t.last), max(last, t.last)+1, h, t.from))
		}
	}
	raw, err := e.store.Setting(ctx, settingModels)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return fmt.Errorf("read the stored model versions: %w", err)
	default:
		var versions map[ActionID]uint64
		if err := json.Unmarshal(raw, &versions); err != nil {
			damage = append(damage, fmt.Sprintf("the list of stored model versions does not read back: %v", err))
			break
		}
		ids := make([]ActionID, 0, len(versions))
		for id := range versions {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			ms, _ := e.modelByKey(id)
			switch {
			case ms == nil:
				if _, _, uplift := splitUpliftKey(id); uplift {
					continue // an uplift model of an objective the action no longer has
				}
				damage = append(damage, fmt.Sprintf("action %q has a stored model (version %d) but is missing from the catalog", id, versions[id]))
			case ms.version.Load() < versions[id]:
				damage = append(damage, fmt.Sprintf("model %q: version %d was stored, but the newest snapshot found is version %d", id, versions[id], ms.version.Load()))
			}
		}
	}
	if len(damage) > 0 {
		return fmt.Errorf("%w: %s", ErrDamaged, strings.Join(damage, "; "))
	}
	return nil
}

// modelVersions encodes settingModels: every model's newest stored version, those of
// snaps (a snapshot's new versions) over the ones held. The caller holds e.mu.
func (e *Engine) modelVersions(snaps []Snapshot) ([]byte, error) {
	versions := make(map[ActionID]uint64, len(e.sorted))
	e.eachModel(func(ms *modelState, _ *actionState) {
		if v := ms.version.Load(); v > 0 {
			versions[ms.key] = v
		}
	})
	for _, sn := range snaps {
		versions[sn.Action] = max(versions[sn.Action], sn.Version)
	}
	return json.Marshal(versions)
}
