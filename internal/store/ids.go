package store

import (
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
)

// NewID returns a server-generated ID: 32 lowercase hex characters like
// ModelArts' IDs, time-ordered (UUIDv7) so that B-tree inserts stay
// sequential — random keys make large loads several times slower.
func NewID() string {
	u, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; nothing
		// sensible can continue without one.
		panic(fmt.Sprintf("generate id: %v", err))
	}
	var buf [32]byte
	hex.Encode(buf[:], u[:])
	return string(buf[:])
}
