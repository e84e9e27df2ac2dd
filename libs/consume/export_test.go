package consume

// OnHand makes r tell f the stream sequence of every message it takes
// into its hand, so a test can wait until a message is held rather than
// sleep. Set it before Run.
func OnHand(r *Runner, f func(seq uint64)) { r.inHand = f }

// LookupEvents is the duplicate lookup's statement.
const LookupEvents = lookupEvents
