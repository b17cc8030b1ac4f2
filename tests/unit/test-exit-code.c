/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bin/dkm-hook/exit-code.c: the one place an engine result becomes dkm-hook's exit code. A
 * failed build is never taken for an errno nor the other way round, and a command over several
 * kernels exits with the highest code any of them earned (as the verbs have always done), and
 * the json writer of the front end places commas and prefixes as told. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "actions.h"
#include "tap.h"
#include "util.h"
#include "../../bin/dkm-hook/exit-code.h"
#include "../../bin/dkm-hook/json-writer.h"

static void test_errno(void)
{
	tap_is_int(exit_code_from_errno(0), DKM_EXIT_OK, "0 is success");
	tap_is_int(exit_code_from_errno(-EINVAL), DKM_EXIT_INVALID, "-EINVAL: invalid");
	tap_is_int(exit_code_from_errno(-EBADMSG), DKM_EXIT_INVALID, "-EBADMSG: invalid");
	tap_is_int(exit_code_from_errno(-ENOENT), DKM_EXIT_NOTFOUND, "-ENOENT: not found");
	tap_is_int(exit_code_from_errno(-ESRCH), DKM_EXIT_NOTFOUND, "-ESRCH: not found");
	tap_is_int(exit_code_from_errno(-EIO), DKM_EXIT_FAILURE, "-EIO: failure");
	tap_is_int(exit_code_from_errno(-EPERM), DKM_EXIT_FAILURE,
		   "-EPERM (1 as an errno): failure");
}

static void test_result(void)
{
	struct dkm_result res = { 0 };

	tap_is_int(exit_code_from_result(0, &res, true), DKM_EXIT_OK, "nothing wrong: 0");
	res.done = 3;
	tap_is_int(exit_code_from_result(0, &res, true), DKM_EXIT_OK, "all done: 0");
	res.failed = 1;
	tap_is_int(exit_code_from_result(0, &res, true), DKM_EXIT_BUILD, "a failed build: 4");
	res.errors[res.n_errors++] = -ENOENT;
	tap_is_int(exit_code_from_result(-ENOENT, &res, true), DKM_EXIT_BUILD,
		   "a failed build outranks a missing kernel (4 > 3)");
	res.errors[res.n_errors++] = -EINVAL;
	tap_is_int(exit_code_from_result(-ENOENT, &res, true), DKM_EXIT_INVALID,
		   "an invalid dkms.conf on another kernel outranks it (5), whichever came first");
	res.excluded = 1;
	tap_is_int(exit_code_from_result(-ENOENT, &res, true), DKM_EXIT_EXCLUDED,
		   "an excluded kernel that was named: 6");
	tap_is_int(exit_code_from_result(-ENOENT, &res, false), DKM_EXIT_INVALID,
		   "rebuild: an excluded package is no failure");

	res = (struct dkm_result){ .failed = 1 };
	tap_is_int(exit_code_from_result(-EPERM, &res, false), DKM_EXIT_BUILD,
		   "-EPERM (== -1) with a failed build: 4, not confused with either");
	res = (struct dkm_result){ 0 };
	tap_is_int(exit_code_from_result(-EIO, &res, true), DKM_EXIT_FAILURE,
		   "the command failed as a whole: its errno's code");
}

static void test_json_writer(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w = JSON_WRITER_INIT(f);

	jw_object_begin(&w, NULL);
	jw_int(&w, "version", 1);
	jw_str(&w, "s", "a\"b");
	jw_str(&w, "n", NULL);
	jw_array_begin(&w, "l");
	for (int i = 0; i < 2; i++) {
		jw_prefix(&w, "\n  ");
		jw_object_begin(&w, NULL);
		jw_bool(&w, "b", i);
		jw_array_begin(&w, "e");
		jw_array_end(&w);
		jw_object_end(&w);
	}
	jw_raw(&w, "\n");
	jw_array_end(&w);
	jw_object_end(&w);
	fclose(f);
	tap_is_str(buf,
		   "{\"version\":1,\"s\":\"a\\\"b\",\"n\":null,\"l\":[\n  {\"b\":false,\"e\":[]},\n  {\"b\":true,\"e\":[]}\n]}",
		   "json writer: commas, keys, null, prefixes");
	free(buf);
}

int main(void)
{
	test_errno();
	test_result();
	test_json_writer();
	return tap_done();
}
