/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The front ends' log function: what the engine reports, on the terminal. */
#include <stdio.h>
#include <unistd.h>

#include "log-stdio.h"

void dkm_log_to_stdio(void *userdata, int level, const char *msg)
{
	const struct dkm_log_sink *s = userdata;

	if (level <= DKM_LOG_ERR)
		fprintf(stderr, "%s%s\n", s->error, msg);
	else if (level == DKM_LOG_WARNING)
		fprintf(stderr, "%s%s\n", s->warning, msg);
	else {
		fflush(stderr);
		printf("%s%s\n", s->notice, msg);
		fflush(stdout);
	}
}

void dkm_output_to_stdio(void *userdata, enum dkm_output kind, const char *buf, size_t len)
{
	if (kind == DKM_OUTPUT_PROGRESS && !isatty(STDERR_FILENO))
		return;
	fflush(stdout);
	fflush(stderr);
	for (size_t done = 0; done < len;) {
		ssize_t w = write(STDERR_FILENO, buf + done, len - done);

		if (w <= 0)
			break;
		done += (size_t)w;
	}
}
