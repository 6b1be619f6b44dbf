# lib.bash - shared by the CLI integration tests (sourced, not run).
# check NAME CMD...    runs CMD, counts it as passed when it exits 0, else prints its output
# exit_is CODE CMD...  succeeds when CMD exits with CODE
# Both scripts end with: echo "RESULT passed=$passed failed=$failed"
K=${KINTSUGI:-build/san/kintsugi}
SC=tests/scenarios
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

check() {
    local name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        sed 's/^/    /' "$T/out" "$T/err" | tail -15
    fi
}

exit_is() {
    local want=$1
    shift
    "$@" >/dev/null 2>&1
    [ $? -eq "$want" ]
}
