"""A sender's answer: the three outcomes, and the older ``accepted`` form
reading as one of them."""

import pytest

from tessera import SendResult, SendStatus


def test_the_constructors_give_their_status() -> None:
    assert SendResult.delivered("p1") == SendResult(True, "p1", status=SendStatus.DELIVERED)
    failed = SendResult.failed("timeout", retryable=True)
    assert (failed.status, failed.retryable, failed.accepted) == (SendStatus.FAILED, True, False)
    rejected = SendResult.rejected("unfollowed")
    assert (rejected.status, rejected.retryable) == (SendStatus.REJECTED, False)


def test_accepted_alone_reads_as_delivered_or_a_final_failure() -> None:
    assert SendResult(accepted=True).status is SendStatus.DELIVERED
    refused = SendResult(accepted=False, error="bad number")
    assert (refused.status, refused.retryable) == (SendStatus.FAILED, False)


def test_contradictions_are_refused() -> None:
    with pytest.raises(ValueError, match="accepted"):
        SendResult(accepted=True, status=SendStatus.FAILED)
    with pytest.raises(ValueError, match="retryable"):
        SendResult(accepted=False, status=SendStatus.REJECTED, retryable=True)
