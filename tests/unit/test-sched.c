/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/sched.c's job budget, without fork or make: the slots a run hands out are never more
 * than ctx->jobs (our implicit slot plus jobs-1 jobserver tokens), a slot given back can be
 * taken again, and a token goes back to the pipe, not to the implicit slot. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "sched.h"
#include "tap.h"
#include "util.h"

/* take every slot there is: how many, and how many of them were tokens */
static unsigned take_all(struct dkm_job_slots *s, unsigned *ret_tokens)
{
	unsigned n = 0, tokens = 0;
	bool token;

	while (n < 10000 && dkm_job_slots_take(s, &token)) {
		n++;
		tokens += token;
	}
	*ret_tokens = tokens;
	return n;
}

static void test_budget(unsigned jobs)
{
	struct dkm_job_slots s;
	unsigned tokens, n;
	bool token;

	tap_is_int(dkm_job_slots_open(&s, jobs), 0, "jobserver opened");
	n = take_all(&s, &tokens);
	tap_is_int(n, jobs, "never more slots than the budget");
	tap_is_int(tokens, jobs - 1, "all but the implicit slot are pipe tokens");
	tap_ok(!dkm_job_slots_take(&s, &token), "budget spent: no slot");

	/* the implicit slot comes back as itself */
	dkm_job_slots_give(&s, false);
	tap_ok(dkm_job_slots_take(&s, &token) && !token, "the implicit slot, given back, again");
	tap_ok(!dkm_job_slots_take(&s, &token), "and then none");
	if (jobs > 1) {
		struct pollfd p = { .fd = s.my_read, .events = POLLIN };

		tap_is_int(poll(&p, 1, 0), 0, "an empty pipe: nothing to poll for");
		dkm_job_slots_give(&s, true);
		tap_is_int(poll(&p, 1, 0), 1, "a token given back wakes the poll");
		tap_ok(dkm_job_slots_take(&s, &token) && token, "a token given back, again");
		tap_ok(!dkm_job_slots_take(&s, &token), "and then none");
	}
	/* everything back: the whole budget again, no more */
	dkm_job_slots_give(&s, false);
	for (unsigned i = 1; i < jobs; i++)
		dkm_job_slots_give(&s, true);
	n = take_all(&s, &tokens);
	tap_is_int(n, jobs, "all given back: the budget again");
	dkm_job_slots_close(&s);
}

int main(void)
{
	test_budget(1);
	test_budget(2);
	test_budget(8);
	test_budget(64);
	return tap_done();
}
