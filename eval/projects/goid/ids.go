// Package goid hands out request ids and keeps who asked for them.
package goid

import (
	"strings"

	"github.com/google/uuid"
	"github.com/pkg/errors"
)

// ErrUnknownID is returned for an id this registry never issued.
var ErrUnknownID = errors.New("unknown id")

// Registry remembers the owner of every id it issued.
type Registry struct {
	owners map[uuid.UUID]string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{owners: make(map[uuid.UUID]string)}
}

// Issue returns a new random id owned by owner.
func (r *Registry) Issue(owner string) uuid.UUID {
	id := uuid.New()
	r.owners[id] = owner
	return id
}

// Owner returns who the id (in its string form) was issued to.
func (r *Registry) Owner(text string) (string, error) {
	id, err := uuid.Parse(strings.TrimSpace(text))
	if err != nil {
		return "", errors.Wrapf(err, "parse id %q", text)
	}
	owner, ok := r.owners[id]
	if !ok {
		return "", errors.WithStack(ErrUnknownID)
	}
	return owner, nil
}
