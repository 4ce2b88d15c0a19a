"""Lambda's event filtering for the local event-source pumps.

An event source mapping's `FilterCriteria` holds up to five patterns; a record reaches the
function when any of them matches it, and is dropped otherwise (an SQS message that matches
none is deleted, a stream record skipped). Matching is moto's EventBridge pattern matcher
(the same rule language: exact values, prefix, suffix, anything-but, numeric, exists,
equals-ignore-case, `$or`, nested keys); what Lambda refuses when the mapping is created (an
operator it does not know, a value that is not a list, more than five filters, a pattern
over 4,096 characters) is refused here before anything runs.
"""

import json

from moto.events.models import EventPattern

MAX_FILTERS = 5
MAX_PATTERN_LENGTH = 4096
OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case"}


class InvalidFilter(ValueError):
    pass


def _check(node, where):
    if not isinstance(node, dict) or not node:
        raise InvalidFilter(f"{where}: a pattern level must be a non-empty object")
    for key, value in node.items():
        here = f"{where}.{key}" if where else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidFilter(f"{here}: $or takes a list of at least two patterns")
            for i, alt in enumerate(value):
                _check(alt, f"{here}[{i}]")
        elif isinstance(value, dict):
            _check(value, here)
        elif isinstance(value, list):
            if not value:
                raise InvalidFilter(f"{here}: empty lists match nothing and are refused")
            for rule in value:
                if isinstance(rule, dict):
                    if len(rule) != 1 or next(iter(rule)) not in OPERATORS:
                        raise InvalidFilter(f"{here}: unknown filter {json.dumps(rule)}")
                    op, arg = next(iter(rule.items()))
                    if op == "exists" and not isinstance(arg, bool):
                        raise InvalidFilter(f"{here}: exists takes true or false")
                    if op == "numeric" and (not isinstance(arg, list) or len(arg) % 2):
                        raise InvalidFilter(f"{here}: numeric takes operator/value pairs")
                elif not (rule is None or isinstance(rule, (str, int, float, bool))):
                    raise InvalidFilter(f"{here}: {json.dumps(rule)} is not a value to match")
        else:
            raise InvalidFilter(f"{here}: must be an object or a list")


class Filters:
    """An event source mapping's filter criteria, checked as Lambda checks them."""

    def __init__(self, patterns):
        if len(patterns) > MAX_FILTERS:
            raise InvalidFilter(f"{len(patterns)} filters: an event source mapping takes at most {MAX_FILTERS}")
        self.patterns = []
        for raw in patterns:
            if len(raw) > MAX_PATTERN_LENGTH:
                raise InvalidFilter(f"a pattern of {len(raw)} characters (at most {MAX_PATTERN_LENGTH})")
            try:
                parsed = json.loads(raw)
            except ValueError as e:
                raise InvalidFilter(f"pattern is not JSON: {e}") from None
            _check(parsed, "")
            self.patterns.append(EventPattern.load(raw))

    def matches(self, record):
        """Whether the record reaches the function. No filters: everything does."""
        return not self.patterns or any(p.matches_event(record) for p in self.patterns)


def sqs_view(record):
    """The record as Lambda filters it: an SQS body that is JSON is matched as JSON."""
    try:
        body = json.loads(record.get("body", ""))
    except ValueError:
        return record
    return {**record, "body": body}
