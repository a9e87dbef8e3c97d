package report

import (
	"strings"

	"github.com/prism-wait/prism-wait/internal/prism"
)

// Caveats says what of a submit's answer is not used: side fields that did
// not parse (left empty), entries that cannot be waited for, and the
// generations past the first MaxIDs. terms names the inputs as Run.Terms
// does.
func Caveats(log *Log, sub prism.Submission, terms *strings.Replacer) {
	for _, s := range sub.Ignored {
		log.Infof("the submit answer's %s; left empty", s)
	}
	if sub.UnusableCount > 0 {
		log.Warningf("Unusable entries in the submit answer", "%d of the API's entries cannot be waited for: %s. They may be generations that were created and charged: check the Prism dashboard. The step goes on with the %d usable generation ID(s).",
			sub.UnusableCount, sub.UnusableText(), len(sub.IDs))
	}
	if len(sub.IDs) > prism.MaxIDs {
		log.Warningf("Not waited for", "%s", Run{Terms: terms}.say(NotWaited(sub.IDs)))
	}
}
