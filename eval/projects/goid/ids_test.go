package goid

import "testing"

func TestIssueThenOwner(t *testing.T) {
	r := NewRegistry()
	id := r.Issue("alice")
	owner, err := r.Owner(id.String())
	if err != nil || owner != "alice" {
		t.Fatalf("got %q, %v", owner, err)
	}
}
