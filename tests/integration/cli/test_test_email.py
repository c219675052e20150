"""`test-email`: one email through the app's own email channel (its ACS client, settings and credential) to the
sandbox's ACS Email, which answers in the service's wire format."""

from __future__ import annotations

from shared import cli


def test_test_email_sends_one_email_through_acs(sandbox, app_settings, capsys):
    assert cli.main(["test-email", "smoke@contoso.com"]) == 0
    [email] = sandbox.emails
    assert email["recipients"]["to"] == [{"address": "smoke@contoso.com"}]
    assert email["senderAddress"] == app_settings["EMAIL_SENDER"]
    assert email["content"]["subject"].startswith("[AML] Test email from the AML pipeline alerting app")
    assert "if you can read this, alerts can reach this address" in email["content"]["plainText"]
    assert "delivered to ACS (Succeeded)" in capsys.readouterr().out


def test_a_refused_test_email_says_so(sandbox, app_settings, capsys):
    sandbox.fail_next("email", 503, count=5)
    assert cli.main(["test-email", "smoke@contoso.com"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("not sent: ") and "503" in err
    assert sandbox.emails == []


def test_it_needs_only_the_acs_settings(sandbox, app_settings, monkeypatch, capsys):
    """What azd's postdeploy hook has: the deployment's outputs ACS_ENDPOINT and EMAIL_SENDER, and a credential."""
    for name in ("AzureWebJobsStorage", "LOG_ANALYTICS_WORKSPACE_IDS", "EMAIL_RECIPIENTS", "LOG_ANALYTICS_ENDPOINT"):
        monkeypatch.delenv(name)
    assert cli.main(["test-email", "smoke@contoso.com"]) == 0
    assert len(sandbox.emails) == 1
    monkeypatch.delenv("ACS_ENDPOINT")
    assert cli.main(["test-email", "smoke@contoso.com"]) == 2
    assert "ACS_ENDPOINT is not set" in capsys.readouterr().err
