package teamtask

import "github.com/atelier-dev/atelier/internal/fault"

func asFault(err error) (*fault.Error, bool) { return fault.As(err) }
