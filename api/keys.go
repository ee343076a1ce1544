package api

import (
	"bufio"
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

func (s *Server) createKey(c *fiber.Ctx) error {
	var b wire.KeyRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	role, err := access.ParseRole(string(b.Role))
	if err != nil {
		return engine.Invalid("invalid_field", "%v", err)
	}
	k, plain, err := access.NewKey(role, b.Name, time.Now())
	if err != nil {
		return engine.Invalid("invalid_field", "%v", err)
	}
	if err := s.auth.PutKey(c.UserContext(), k); err != nil {
		return err
	}
	s.log.Info("api key created", "key_id", k.ID, "role", k.Role, "by", PrincipalOf(c).KeyID)
	return c.Status(fiber.StatusCreated).JSON(wire.CreatedKey{Key: k.Public(), Secret: plain})
}

func (s *Server) listKeys(c *fiber.Ctx) error {
	ks, err := s.keys.Keys(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]access.Key, len(ks))
	for i, k := range ks {
		out[i] = k.Public()
	}
	return c.JSON(wire.KeyList{Keys: out})
}

func (s *Server) revokeKey(c *fiber.Ctx) error {
	id := access.KeyID(param(c, "id"))
	k, err := s.keys.Key(c.UserContext(), id)
	if errors.Is(err, engine.ErrNotFound) {
		return &engine.Error{Kind: engine.ErrNotFound, Code: "unknown_key", Message: "no key " + string(id)}
	}
	if err != nil {
		return err
	}
	if k.Active() {
		k.Revoked = time.Now().UTC()
		if err := s.auth.PutKey(c.UserContext(), k); err != nil {
			return err
		}
	}
	s.log.Info("api key revoked", "key_id", id, "by", PrincipalOf(c).KeyID)
	return c.JSON(k.Public())
}

// backupHandler streams a consistent backup of the live store.
func (s *Server) backupHandler(c *fiber.Ctx) error {
	if s.backup == nil {
		return fiber.NewError(fiber.StatusNotFound, "backup is not available")
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="nextbest-`+time.Now().UTC().Format("20060102T150405Z")+`.bak"`)
	s.streamBody(c, func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(s.base, time.Hour)
		defer cancel()
		if err := s.backup(ctx, w); err != nil {
			s.log.Error("backup stream failed; the client got a truncated file, which restore refuses", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}
