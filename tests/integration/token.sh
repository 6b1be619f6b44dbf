#!/usr/bin/env bash
# API tokens through the CLI: create prints the token alone on stdout, once;
# the database keeps its SHA-256, never the token; list never shows it;
# revoke; names unique for ever; exit codes 0/1/2. Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

db=$T/tok.db
check help_teaches bash -c "$K token --help | grep -q '^usage: kintsugi token create --name NAME --role viewer|responder|admin' && $K token --help | grep -q 'Authorization: Bearer ks_'"
check listed_in_main_help bash -c "$K --help | grep -q '^  token '"
check list_on_missing_db_exits_1 exit_is 1 "$K" token list --db "$T/typo.db"
check list_does_not_create_it [ ! -e "$T/typo.db" ]

"$K" token create --name ci --role responder --db "$db" >"$T/ci.token" 2>"$T/ci.err"
check create_exits_0 [ $? -eq 0 ]
check create_prints_the_token_alone grep -qxE 'ks_[A-Za-z0-9_-]{43}' "$T/ci.token"
check create_prints_one_line [ "$(wc -l <"$T/ci.token")" -eq 1 ]
check create_says_it_is_shown_once grep -q "token 'ci' (responder) created; this is the only time it is shown" "$T/ci.err"
tok=$(cat "$T/ci.token")
check db_has_no_token_text bash -c "! grep -qa -- '${tok#ks_}' $db $db-wal 2>/dev/null"
check db_has_its_sha256 bash -c "h=\$(printf %s '$tok' | sha256sum | cut -c1-64); cat $db $db-wal 2>/dev/null | od -An -tx1 -v | tr -d ' \n' | grep -q \$h"
check second_token_differs bash -c "$K token create --name vera --role viewer --db $db >$T/v.token 2>/dev/null && ! cmp -s $T/ci.token $T/v.token"

check duplicate_name_exits_1 exit_is 1 "$K" token create --name ci --role admin --db "$db"
check duplicate_name_says_why bash -c "$K token create --name ci --role admin --db $db 2>&1 | grep -q \"a token named 'ci' already exists\""
check duplicate_prints_no_token bash -c "[ -z \"\$($K token create --name ci --role admin --db $db 2>/dev/null)\" ]"
check bad_role_exits_2 exit_is 2 "$K" token create --name x --role root --db "$db"
check missing_role_exits_2 exit_is 2 "$K" token create --name x --db "$db"
check missing_name_exits_2 exit_is 2 "$K" token create --role viewer --db "$db"
check bad_name_exits_2 exit_is 2 "$K" token create --name "two words" --role viewer --db "$db"
check unknown_verb_exits_2 exit_is 2 "$K" token frob --db "$db"
check no_verb_exits_2 exit_is 2 "$K" token --db "$db"
check revoke_needs_a_name exit_is 2 "$K" token revoke --db "$db"

check list_has_a_header bash -c "$K token list --db $db | head -1 | grep -q '^NAME  *ROLE  *CREATED  *REVOKED'"
check list_shows_name_and_role bash -c "$K token list --db $db | grep -qE '^ci +responder +20[0-9-]+T[0-9:.]+Z +-$'"
check list_never_shows_tokens bash -c "! $K token list --db $db | grep -q ks_ && ! $K token list --json --db $db | grep -q ks_"
check list_json bash -c "$K token list --json --db $db | grep -qE '^\[\{\"name\":\"ci\",\"role\":\"responder\",\"created_at\":\"[^\"]+\",\"revoked_at\":null\},\{\"name\":\"vera\",\"role\":\"viewer\"'"

check revoke_exits_0 "$K" token revoke ci --db "$db"
check revoked_in_list bash -c "$K token list --json --db $db | grep -qE '\"name\":\"ci\",\"role\":\"responder\",\"created_at\":\"[^\"]+\",\"revoked_at\":\"20'"
check revoke_again_exits_0 bash -c "$K token revoke ci --db $db | grep -q \"token 'ci' was already revoked\""
check revoke_unknown_exits_1 exit_is 1 "$K" token revoke nobody --db "$db"
check revoked_name_not_reused exit_is 1 "$K" token create --name ci --role responder --db "$db"

echo "RESULT passed=$passed failed=$failed"
