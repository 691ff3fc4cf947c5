from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli.main import app
from agentos.config import OrchestratorConfig, flatten, json_schema, load_config
from agentos.errors import ConfigError

from tests.helpers.repos import git


def _repo(tmp_path: Path, config: str | None = None) -> Path:
    git(tmp_path, "init", "-q")
    if config is not None:
        (tmp_path / ".agentos").mkdir()
        (tmp_path / ".agentos" / "config.yaml").write_text(config)
    return tmp_path


def test_defaults_are_the_requests():
    c = OrchestratorConfig()
    assert (c.skip_existing_lld, c.skip_existing_spec) == (True, True)
    assert c.stages.lld.drafter == "claude:opus-4.5" and c.stages.lld.reviewer == "gemini:3-pro-preview"
    assert (c.stages.lld.max_revisions, c.stages.spec.max_revisions) == (5, 3)
    assert (c.stages.implementation.implementer, c.stages.implementation.max_test_retries) == ("claude:opus-4.5", 3)
    assert (c.gates.after_lld, c.gates.after_spec, c.gates.before_pr) == (False, False, True)


def test_precedence_file_then_set_then_flags(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  stages:\n    lld:\n      max_revisions: 4\n  gates:\n    before_pr: true\n")
    loaded = load_config(repo, sets=["stages.lld.max_revisions=2", "orchestrator.pr_draft=true"],
                         flags={"gates.before_pr": False, "base_branch": None})
    assert loaded.config.stages.lld.max_revisions == 2
    assert loaded.config.pr_draft is True
    assert loaded.config.gates.before_pr is False
    assert loaded.source_of("stages.lld.max_revisions").startswith("--set")
    assert loaded.source_of("gates.before_pr") == "flag"
    assert loaded.source_of("stages.spec.max_revisions") == "default"


def test_unknown_key_names_file_path_and_allowed(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  stages:\n    lld:\n      max_revison: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(repo)
    text = str(err.value)
    assert "config.yaml" in text and "stages.lld.max_revison" in text and "max_revisions" in text


def test_the_code_review_section_is_strict_and_its_reviewer_defaults_to_the_specs(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  stages:\n    review:\n      max_round: 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(repo)
    assert "stages.review.max_round" in str(err.value) and "max_rounds, adversarial_tests" in str(err.value)
    (tmp_path / "b").mkdir()
    repo = _repo(tmp_path / "b", "orchestrator:\n  stages:\n    spec: {reviewer: 'openai:gpt-5'}\n")
    loaded = load_config(repo, sets=["stages.review.adversarial_tests=0"], flags={"gates.after_review": True})
    review = loaded.config.stages.review
    assert review.reviewer == "openai:gpt-5" and review.adversarial_tests == 0 and loaded.config.gates.after_review


def test_bad_value_and_bad_yaml(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  gates:\n    before_pr: maybe\n")
    with pytest.raises(ConfigError, match="gates.before_pr"):
        load_config(repo)
    (repo / ".agentos" / "config.yaml").write_text("orchestrator:\n  gates: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(repo)
    (repo / ".agentos" / "config.yaml").unlink()
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(repo, sets=["novalue"])


def test_schema_describes_fields():
    schema = json_schema()
    gates = schema["$defs"]["GatesConfig"]
    assert gates["additionalProperties"] is False
    assert "approval" in gates["properties"]["before_pr"]["description"]


def test_config_show_cli_reports_sources(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  gates:\n    after_lld: true\n")
    result = CliRunner().invoke(app, ["config", "show", "--repo", str(repo), "--set", "stages.spec.max_revisions=1"])
    assert result.exit_code == 0, result.output
    assert "gates.after_lld = true    # " + str(repo / ".agentos" / "config.yaml") in result.output
    assert "stages.spec.max_revisions = 1    # --set" in result.output
    assert "gates.before_pr = true    # default" in result.output
    assert set(flatten(OrchestratorConfig())) <= {line.split(" = ")[0] for line in result.output.splitlines()[1:]}


def test_config_show_cli_bad_config_exits_2(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  nope: 1\n")
    result = CliRunner().invoke(app, ["config", "show", "--repo", str(repo)])
    assert result.exit_code == 2
    assert "nope" in result.output


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.mkdir(), "is a directory, not a file"),
    (lambda p: p.write_bytes(b"orchestrator:\n  pr_draft: \xff\xfe true\n"), "is not UTF-8 text (byte 0xff at offset 26)"),
])
def test_config_that_is_not_a_text_file_exits_2(tmp_path, make, expected):
    (tmp_path / "repo").mkdir()
    repo = _repo(tmp_path / "repo")
    bad = tmp_path / "bad.yaml"
    make(bad)
    result = CliRunner().invoke(app, ["config", "show", "--repo", str(repo), "--config", str(bad)])
    assert result.exit_code == 2, result.output
    assert f"--config {bad} {expected}" in result.output and "hint:" in result.output


def test_set_errors_name_the_set_not_the_file(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  gates:\n    after_lld: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(repo, sets=["stages.lld.max_revisions=many"])
    text = str(err.value)
    assert "invalid configuration in --set stages.lld.max_revisions=many" in text and "config.yaml" not in text
    with pytest.raises(ConfigError, match="--set gates.after_lld.x=1: cannot set"):
        load_config(repo, sets=["gates.after_lld.x=1"])
    with pytest.raises(ConfigError) as err:
        load_config(repo, sets=["stages.lld={max_revisons: 2}"])
    assert "in --set stages.lld={max_revisons: 2}" in str(err.value) and "max_revisions" in str(err.value)


def test_problems_from_the_file_and_a_set_each_name_their_origin(tmp_path):
    repo = _repo(tmp_path, "orchestrator:\n  gates:\n    after_lld: maybe\n")
    with pytest.raises(ConfigError) as err:
        load_config(repo, sets=["max_stage_attempts=0"])
    text = str(err.value)
    assert "gates.after_lld: " in text and f"(from {repo / '.agentos' / 'config.yaml'})" in text
    assert "max_stage_attempts: " in text and "(from --set max_stage_attempts=0)" in text
