package invites

import "fmt"

// upkeep returns the store as an UpkeepStore, the optional capability op
// needs, or an error wrapping ErrUnsupported that names op. The Service
// holds the store bounded (see bound), which is an UpkeepStore exactly
// when the host's store is one.
func (s *Service) upkeep(op string) (UpkeepStore, error) {
	if u, ok := s.store.(UpkeepStore); ok {
		return u, nil
	}
	return nil, fmt.Errorf("%w: %s needs a store that is an UpkeepStore", ErrUnsupported, op)
}

// canKeep refuses a Config that asks store to remove data it cannot:
// Retention and EventRetention need Prune, and a Run that kept everything
// regardless would break the host's retention policy without a word.
func canKeep(store Store, cfg Config) error {
	if _, ok := store.(UpkeepStore); !ok && (cfg.Retention > 0 || cfg.EventRetention > 0) {
		return fmt.Errorf("%w: Config.Retention and EventRetention need a store that is an UpkeepStore", ErrUnsupported)
	}
	return nil
}
