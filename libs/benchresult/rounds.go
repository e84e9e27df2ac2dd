package benchresult

import (
	"context"
	"fmt"
)

// Measure is one side of a comparison measured once: it returns the
// figure of round round (0-based).
type Measure func(ctx context.Context, round int) (float64, error)

// Interleave measures system and reference in turn for rounds rounds and
// returns each side's figures, round by round, for FromRounds. The order
// alternates (system first in even rounds, reference first in odd ones),
// so a drift of the machine over the run, or a side that warms the other
// up, weighs on both alike.
func Interleave(ctx context.Context, rounds int, system, reference Measure) (values, refs []float64, err error) {
	if rounds < 1 {
		return nil, nil, fmt.Errorf("interleave: %d rounds, want at least 1", rounds)
	}
	for round := range rounds {
		first, second := system, reference
		if round%2 == 1 {
			first, second = reference, system
		}
		a, err := first(ctx, round)
		if err != nil {
			return values, refs, fmt.Errorf("round %d: %w", round+1, err)
		}
		b, err := second(ctx, round)
		if err != nil {
			return values, refs, fmt.Errorf("round %d: %w", round+1, err)
		}
		if round%2 == 1 {
			a, b = b, a
		}
		values, refs = append(values, a), append(refs, b)
	}
	return values, refs, nil
}
