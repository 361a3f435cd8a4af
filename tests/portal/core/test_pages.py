import pytest

pytestmark = pytest.mark.django_db


def test_home_is_in_chinese_by_default_and_switches_to_english(client):
    page = client.get("/").content.decode()
    assert 'lang="zh-hans"' in page and "二手手机号" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "second-hand phone number" in client.get("/").content.decode()


def test_pages_open_in_chinese_even_when_the_browser_asks_for_english(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "二手手机号" in page


def test_api_clients_choose_their_language_with_accept_language(client):
    response = client.get("/api/v1/staff/apps/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403 and "credentials" in response.json()["detail"]


def test_pages_are_built_for_phones(client):
    assert 'name="viewport"' in client.get("/").content.decode()


def test_openapi_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and "swagger" in docs.content.decode().lower()


def test_complaints_part_has_a_home(client):
    assert client.get("/complaints/").status_code == 200


def test_demo_data_loads_twice_without_changing_anything():
    from portal.devtools.demo import load_demo
    from registry.models import IntegrationKey, MemberApp, Organisation, StaffUser

    first = load_demo()
    counts = [m.objects.count() for m in (Organisation, MemberApp, StaffUser, IntegrationKey)]
    second = load_demo()
    assert first["apps"] == 16 and first["staff"] == 4
    assert second == {"organisations": 0, "apps": 0, "staff": 0}
    assert [m.objects.count() for m in (Organisation, MemberApp, StaffUser, IntegrationKey)] == counts


def test_before_giving_up_a_number_lists_the_seven_kinds_of_account(client):
    page = client.get("/before-giving-up/").content.decode()
    assert page.count("<li><strong>") == 7 and "/lookup/" in page
    assert "银行" in page and "网盘" in page


@pytest.mark.django_db
def test_text_that_states_a_rule_reads_its_setting(client, settings):
    """A deployment that changes a rule changes what the pages say about it, in both languages."""
    settings.LOOKUP_RETENTION_DAYS, settings.LOOKUP_ONE_PER_NUMBER_HOURS = 7, 48
    settings.COMPLAINT_ANSWER_DAYS, settings.COMPLAINT_FINAL_DAYS, settings.UNBIND_WORKING_DAYS = 20, 45, 3
    lookup = client.get("/lookup/").content.decode()
    assert "7 天后删除" in lookup and "每 48 小时" in lookup
    assert "平台须在 20 天内答复（45 天内给出最终答复）" in client.get("/complaints/").content.decode()
    assert "3 个工作日" in client.get("/").content.decode()
    client.cookies["django_language"] = "en"
    assert "every 48 hours" in client.get("/lookup/").content.decode()
