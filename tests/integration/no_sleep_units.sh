#!/bin/bash
# The agent's unit tests never wait on the passage of time: timers are the
# session's and run on its injected clock (tests/unit/session_test.c), and
# the link tests wait only for messages, each with a bound. This fails
# when one of those files calls a sleep, or waits for "nothing arrives"
# (assert_null(next_msg(...)): a poll that passes by running out of time).
# Words in comments ("no test sleeps") do not count: only calls do.
. "$(dirname "$0")/lib.sh"
FILES="sender_test.c session_test.c session_model_test.c diagnosis_test.c
daemon_lock_test.c"
echo "1..$(( $(echo $FILES | wc -w) + 2 ))"

SLEEPS='(^|[^A-Za-z0-9_])(sleep|usleep|nanosleep|clock_nanosleep|zclock_sleep|zmq_sleep|thrd_sleep)[[:space:]]*\('
SILENCE='assert_null[[:space:]]*\([[:space:]]*next_msg[[:space:]]*\('

# no_wait FILE: prints the offending lines, fails when there are any.
no_wait() { ! grep -nE "$SLEEPS|$SILENCE" "$1"; }

# The check itself must be able to fail: planted calls are found, the
# words of a comment are not.
printf 'x();\n    usleep(1100 * 1000);\n' > "$T/bad1.c"
printf '    assert_null(next_msg(r, agg, 300, id, &n));\n' > "$T/bad2.c"
printf '/* no test here sleeps; nothing waits on sleep */\n' > "$T/good.c"
if ! no_wait "$T/bad1.c" > /dev/null && ! no_wait "$T/bad2.c" > /dev/null \
   && no_wait "$T/good.c" > /dev/null; then
    ok "the check finds planted sleeps and waits for silence"
else
    not_ok "the check misses planted calls or flags a comment"
fi

for f in $FILES; do
    path=$TOP/tests/unit/$f
    if [ ! -f "$path" ]; then
        not_ok "$f exists (listed here; rename the list with the file)"
    elif out=$(no_wait "$path"); then
        ok "$f does not sleep or wait for time to pass"
    else
        not_ok "$f waits on real time: $out"
    fi
done
# A new agent unit test file is listed here too.
unlisted=""
for f in "$TOP"/tests/unit/{sender,session,diagnosis,daemon_lock}*_test.c; do
    case " $(echo $FILES) " in *" $(basename "$f") "*) ;; *) unlisted="$unlisted $(basename "$f")" ;; esac
done
expect_eq "every agent link/session unit test is checked" "$unlisted" ""
