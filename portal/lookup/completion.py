"""A lookup completes when its last row settles, wherever that happens (the fan-out, a callback, the sweeper):
the counts are kept and the summary SMS goes out, once."""

from django.db import transaction
from django.utils import timezone

from portal.lookup.models import Lookup, LookupQuery
from portal.sms.models import SmsMessage
from portal.sms.services import sms_send


def lookup_complete_if_settled(*, lookup_id) -> Lookup | None:
    """When every row has settled: keep the counts, mark the lookup completed, send the summary SMS.
    Idempotent: a completed lookup is left alone."""
    with transaction.atomic():
        lookup = Lookup.objects.select_for_update().get(pk=lookup_id)
        if lookup.state == Lookup.State.COMPLETED:
            return lookup
        # plain tuples, not 200 model instances: this runs on the path from the last answer to "completed"
        rows = list(lookup.queries.values_list("state", "app__name", "accounts_total", "accounts_previous"))
        if any(state not in LookupQuery.SETTLED for state, *_rest in rows):
            return None
        with_accounts = [(name, total) for _state, name, total, _previous in rows if total]
        lookup.state = Lookup.State.COMPLETED
        lookup.completed_at = timezone.now()
        lookup.apps_with_accounts = len(with_accounts)
        lookup.accounts_total = sum(total for _state, _name, total, _previous in rows)
        lookup.accounts_previous = sum(previous for *_rest, previous in rows)
        if lookup.phone_number:
            if with_accounts:
                counts = "，".join(f"{name} {total} 个" for name, total in with_accounts)
                text = (
                    f"【码号服务】您的号码账号查询已完成：{counts}，共 {lookup.accounts_total} 个账号，"
                    f"其中 {lookup.accounts_previous} 个可能属于前机主。可按各应用的说明解绑。"
                )
            else:
                text = "【码号服务】您的号码账号查询已完成：未查到成员应用下注册的账号。"
            sms_send(phone_number=lookup.phone_number, text=text, purpose=SmsMessage.Purpose.LOOKUP_SUMMARY)
            lookup.summary_sms_sent_at = timezone.now()
        lookup.save()  # once: the counts, the state and when the summary SMS was queued
    return lookup


def finish_lookups(lookup_ids: set[str]) -> None:
    for lookup_id in lookup_ids:
        if not LookupQuery.objects.filter(
            lookup_id=lookup_id, state__in=[LookupQuery.State.WAITING, LookupQuery.State.RUNNING]
        ).exists():
            lookup_complete_if_settled(lookup_id=lookup_id)
