package engine

// outcomeLogged returns the sequence of the event that logged outcome o for the pair, if any.
func outcomeLogged(s OutcomeState, o Outcome) (uint64, bool) {
	if s.Outcome == o {
		return s.Seq, true
	}
	for _, a := range s.Also {
		if a.Outcome == o {
			return a.Seq, true
		}
	}
	return 0, false
}
