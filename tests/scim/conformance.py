"""An independent SCIM 2.0 conformance check of `mamori serve`'s /scim/v2 (RFC 7643/7644).

Runs scim2-tester (Yaal Coop's checker, from PyPI; no code shared with Mamori) against the
server: discovery (ServiceProviderConfig, ResourceTypes, Schemas), then create, read, list,
filter, replace, PATCH (add, replace, remove on every advertised attribute, extensions
included) and delete of Users and Groups. Prints one line per check and exits 1 when any
check finds a MUST broken (ERROR) or a security fault (CRITICAL).

Usage: python conformance.py BASE_URL TOKEN     (BASE_URL ends in /scim/v2)
"""

import datetime
import sys

import scim2_tester.checkers.patch_add as patch_add
import scim2_tester.checkers.patch_replace as patch_replace
import scim2_tester.filling as filling
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


# scim2-tester 0.5.2 fills every attribute type it does not know with a random UUID string,
# dateTime included, and then fails its own model validation before anything is sent. The
# Mamori extension's noticeDate and terminationDate are dateTimes (the right SCIM type for
# them): give them a dateTime. This changes what the checker sends, never what it checks.
_generate = filling.generate_random_value


def _generate_with_date_times(context, path, mutability=None, required=None):
    value = _generate(context, path, mutability, required)
    binding = path.resolve()
    if value is not None and binding is not None and binding.target_type is datetime.datetime:
        return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return value


for module in (filling, patch_add, patch_replace):
    module.generate_random_value = _generate_with_date_times


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(http)
    scim.discover()
    results = check_server(scim)
    failed = 0
    counts: dict[str, int] = {}
    for result in results:
        status = getattr(result.status, "name", str(result.status))
        counts[status] = counts.get(status, 0) + 1
        title = result.title or ""
        resource = f" [{result.resource_type}]" if result.resource_type else ""
        reason = " ".join((result.reason or "").split())
        print(f"{status:10} {title}{resource}: {reason}"[:600])
        # ERROR breaks a MUST of the RFCs, CRITICAL a security or protocol basic; a
        # DEVIATION (a SHOULD not followed) is printed but not a failure.
        if result.status in (Status.ERROR, Status.CRITICAL):
            failed += 1
            data = getattr(result, "data", None)
            if data is not None:
                print(f"         data: {str(data)[:2000]}")
    print("scim-conformance: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
