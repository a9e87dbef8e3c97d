package report

import (
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
)

// Caveats says what of a submit's answer is not used: side fields that did
// not parse (left empty) and entries that cannot be waited for.
func Caveats(log *Log, sub prism.Submission) {
	for _, s := range sub.Ignored {
		log.Infof("the submit answer's %s; left empty", s)
	}
	if sub.UnusableCount > 0 {
		log.Warningf("Unusable entries in the submit answer", "%d of the API's entries cannot be waited for: %s. They may be generations that were created and charged: check the Prism dashboard. The step goes on with the %d usable generation ID(s).",
			sub.UnusableCount, sub.UnusableText(), len(sub.IDs))
	}
}

// WarnNotWaited says, before the wait, which of the submitted ids one
// step does not wait for (see outcome.NotWaited), if any. term names an
// input as Run.Terms does.
func WarnNotWaited(log *Log, ids []string, term func(input string) string) {
	if advice := outcome.NotWaited(ids, outcome.Settings{Name: term}); advice != "" {
		log.Warningf("Not waited for", "%s", advice)
	}
}
