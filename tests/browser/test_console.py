"""The web console in a real browser (issue #16): Debian's Chromium driven by Playwright,
presenting the dev PKI's PKCS#12 client certificates. It walks what a regulator and the
institution do: the dashboard shows the statistics' numbers, the institution confirms a
threat, a regulator issues a decision from the console and the notice arrives on the unit's
gRPC stream, and an appeal's working days left are the calendar's. Every page is
photographed into target/console-screenshots/.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

import fenghuo
from fenghuo.v1 import (
    common_pb2,
    disposal_pb2,
    identification_pb2,
    registry_pb2,
    statistics_pb2,
    statistics_pb2_grpc,
    threat_pb2,
    calendar_pb2,
)

from conftest import Console, screenshots_dir

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machines have no internet: no background connections to refuse.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def as_org(browser: Browser, console: Console, org: str, locale: str = "zh-CN") -> BrowserContext:
    """A browser profile holding `org`'s PKCS#12, as a person imports it (README). The dev CA
    is not in the browser's trust store here, hence ignore_https_errors; the client
    certificate is what the server checks."""
    return browser.new_context(
        locale=locale,
        ignore_https_errors=True,
        viewport={"width": 1280, "height": 900},
        client_certificates=[
            {"origin": console.url, "pfxPath": str(console.pki(org) / "client.p12"), "passphrase": "fenghuo"}
        ],
    )


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots_dir() / f"{name}.png"), full_page=True)


def today() -> datetime.date:
    return datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def botnet_c2(ip: str) -> threat_pb2.ThreatReport:
    report = threat_pb2.ThreatReport(
        tlp=common_pb2.TLP_GREEN,
        kind=threat_pb2.SUBMISSION_KIND_ABOUT_OTHERS,
        event=threat_pb2.EventInformation(
            grade=common_pb2.EVENT_GRADE_MAJOR,
            affected_unit="Example Hosting Ltd",
            brief_course="Observed by passive DNS",
            estimated_harm_and_impact="about 120,000 bots",
            measures_taken="none yet",
        ),
        malicious_resource=threat_pb2.MaliciousResource(
            kind=threat_pb2.MALICIOUS_RESOURCE_KIND_IP,
            value=ip,
            purpose=threat_pb2.MALICIOUS_RESOURCE_PURPOSE_BOTNET_CONTROL_SERVER,
            control_server=threat_pb2.ControlServer(
                port=8080,
                transport=threat_pb2.TRANSPORT_PROTOCOL_TCP,
                malware_family="Mirai",
                bot_count=120_000,
                domains=["cc.evil-example.com"],
            ),
        ),
    )
    report.discovered_at.GetCurrentTime()
    report.event.occurred_at.GetCurrentTime()
    return report


def test_a_regulator_and_the_institution_work_a_threat_in_the_browser(browser: Browser, console: Console) -> None:
    vendor, telecom, party = console.client("vendor-bj"), console.client("telecom-gd"), console.client("party-gd")
    miit_grpc = console.client("miit")
    telecom.unit.declare([registry_pb2.OwnershipEntry(kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX, value="58.60.0.0/14")])
    party.party.declare(
        [
            registry_pb2.OwnershipEntry(
                kind=registry_pb2.OWNERSHIP_KIND_IP_PREFIX, value="58.60.3.0/24", relation=registry_pb2.OWNERSHIP_RELATION_HOLDER
            )
        ]
    )
    threat_id = vendor.unit.submit(botnet_c2("58.60.3.3"), submission_id=str(uuid.uuid4())).threat_id
    vendor.unit.submit(botnet_c2("58.61.7.7"), submission_id=str(uuid.uuid4()))

    # The dashboard: this month's figures are StatisticsService's.
    stats = statistics_pb2_grpc.StatisticsServiceStub(miit_grpc.channel)
    month = statistics_pb2.StatisticsRequest(period=statistics_pb2.StatisticsPeriod(month=today().strftime("%Y-%m")))
    figures = stats.GetThreatStatistics(month, timeout=30)
    assert figures.sightings == 2
    miit = as_org(browser, console, "miit").new_page()
    miit.goto(console.url + "/")
    assert miit.inner_text("#me") == "miit"
    assert miit.inner_text("#month-sightings") == str(figures.sightings)
    assert miit.inner_text("#month-threats") == str(figures.threats)
    assert miit.locator("#chart-by-day").is_visible()
    shot(miit, "dashboard-zh")

    # The institution's officer confirms the threat from the Art. 7 queue.
    cncert = as_org(browser, console, "cncert").new_page()
    cncert.goto(console.url + "/identification")
    shot(cncert, "identification-queue")
    cncert.click(f"tr[data-threat='{threat_id}'] a")
    cncert.select_option("#identify-form select[name=outcome]", "IDENTIFICATION_OUTCOME_CONFIRMED")
    cncert.select_option("#identify-form select[name=grade]", "EVENT_GRADE_SERIOUS")
    cncert.fill("#identify-form input[name=reason]", "Sinkhole data confirm the control server")
    cncert.fill("#identify-form input[name=grade_reason]", "120,000 bots: serious by the 2009 thresholds")
    cncert.fill("#identify-form input[name=officer_token]", console.token("cncert"))
    cncert.click("#identify-form button[type=submit]")
    assert cncert.inner_text("#threat-status") == "已确认"
    assert cncert.inner_text("#done") == "认定已记录"
    shot(cncert, "threat-identified")

    # The regulator decides from the console; the unit's gRPC stream delivers the notice.
    delivered: list[disposal_pb2.NoticeDelivery] = []
    arrived = threading.Event()

    def follow() -> None:
        with telecom.unit.notices() as notices:
            watchdog = threading.Timer(60, notices.close)
            watchdog.start()
            for d in notices:
                delivered.append(d)
                arrived.set()
                break
            watchdog.cancel()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    miit.goto(console.url + f"/threats/{threat_id}")
    shot(miit, "threat")
    miit.select_option("#decision-form select[name=measure_type]", "MEASURE_TYPE_STOP_SERVICE_OR_BLOCK")
    assert miit.input_value("#decision-form input[name=target_value]") == "58.60.3.3"
    miit.fill("#decision-form input[name=legal_basis]", "Measures Art. 8")
    miit.fill("#decision-form input[name=instructions]", "Null-route the address and report")
    miit.fill("#decision-form input[name=time_limit]", "24")
    miit.fill("#decision-form input[name=officer_token]", console.token("miit"))
    miit.click("#decision-form button[type=submit]")
    assert miit.inner_text("#done") == "处置决定已下达，通知已签名并送达"
    decision_id = miit.url.split("decision_id=")[1].split("&")[0]
    shot(miit, "notices")
    assert arrived.wait(60), "the notice reached telecom-gd's stream"
    body = disposal_pb2.NoticeBody.FromString(delivered[0].notice.signed.body)
    assert body.decision_id == decision_id and body.addressee_organisation_id == "telecom-gd"
    notice_id = delivered[0].notice.notice_id
    assert miit.locator(f"tr[data-notice='{notice_id}']").count() == 1
    telecom.unit.acknowledge(delivered[0])
    miit.click(f"tr[data-notice='{notice_id}'] a")
    assert miit.inner_text("#notice-state") == "已签收"
    shot(miit, "notice")

    # The unit reports the result from its own console page (Art. 9).
    unit_page = as_org(browser, console, "telecom-gd").new_page()
    unit_page.goto(console.url + f"/notices/{notice_id}")
    unit_page.fill("#result-form input[name=contact_person]", "Duty NOC")
    unit_page.fill("#result-form input[name=contact_phone]", "+86 20 5555 0101")
    shot(unit_page, "notice-unit-report")
    unit_page.click("#result-form button[type=submit]")
    assert unit_page.inner_text("#notice-state") == "已反馈结果"
    assert unit_page.inner_text("#done") == "处置结果已反馈"

    # The affected party appeals (gRPC); the console's days left are the calendar's.
    resource = fenghuo.target(identification_pb2.MEASURE_TARGET_KIND_IP, "58.60.3.0/24")
    (measure,) = [m for m in party.party.measures_against(resource) if m.notice_id == notice_id]
    appeal = party.party.file_appeal(notice_id, measure.target.target_id, "Our shop; host rebuilt.", "IT, +86 20 5555 0000")
    assert appeal.HasField("answer_due_on"), "the answer's day is known (2027 loaded)"
    d = today()
    left = miit_grpc.calendar.WorkingDaysBetween(
        calendar_pb2.WorkingDaysBetweenRequest(
            **{"from": common_pb2.Date(year=d.year, month=d.month, day=d.day)}, to=appeal.answer_due_on
        ),
        timeout=30,
    ).working_days
    assert left == 30
    miit.goto(console.url + "/appeals")
    row = miit.locator(f"tr[data-appeal='{appeal.id}']")
    assert row.locator(".days-left").inner_text() == str(left)
    shot(miit, "appeals")
    row.locator("a").first.click()
    assert miit.inner_text("#days-left") == str(left)
    shot(miit, "appeal")
    miit.select_option("#answer-form select[name=decision]", "APPEAL_DECISION_UPHELD")
    miit.fill("#answer-form input[name=reasons]", "The control server was still active")
    miit.fill("#answer-form input[name=officer_token]", console.token("miit"))
    miit.click("#answer-form button[type=submit]")
    assert miit.inner_text("#appeal-decision").startswith("维持")

    # The other pages, and the console in English.
    for path, name in [("/threats", "threats"), ("/compliance", "compliance")]:
        miit.goto(console.url + path)
        shot(miit, name)
    english = as_org(browser, console, "miit", locale="en-GB").new_page()
    english.goto(console.url + "/")
    assert english.inner_text("h1") == "Dashboard"
    shot(english, "dashboard-en")
    english.click("text=中文")
    assert english.inner_text("h1") == "态势总览"

    miit.goto(console.url + "/")
    assert miit.inner_text("#notices-issued") == "1"
    shot(miit, "dashboard-after")

    # The month's bulletin, published by the institution, read and downloaded by a unit.
    month_text = today().strftime("%Y-%m")
    console.build_bulletin(month_text)
    unit_page.goto(console.url + "/bulletins")
    assert unit_page.locator(f"tr[data-bulletin='{month_text}/zh-CN']").count() == 1
    shot(unit_page, "bulletins")
    with unit_page.expect_download() as download:
        unit_page.click(f"tr[data-bulletin='{month_text}/zh-CN'] a.pdf")
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    unit_page.click(f"tr[data-bulletin='{month_text}/zh-CN'] a.view")
    assert month_text.replace("-", " 年 ").lstrip() in unit_page.content() or month_text in unit_page.content()
    shot(unit_page, "bulletin-html")

    # A unit's certificate does not open the identification queue (the RPC's row).
    unit = as_org(browser, console, "telecom-gd").new_page()
    response = unit.goto(console.url + "/identification")
    assert response is not None and response.status == 403
    assert "ListUnidentified" in unit.inner_text("#error")
    shot(unit, "refused")
