"""`mmvideo evaluate HEAD --labels L --evidence OUT`: a head on the test videos stored in it."""

from __future__ import annotations

import json

import click


@click.command(epilog="Exit codes: 0 evaluated; 2 usage or setup error (not a head, mismatched evidence, test "
                      "videos missing).")
@click.argument("head", type=click.Path(exists=True, file_okay=False))
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True),
              help="the labels the head was trained with (rows of its test videos at least)")
@click.option("--evidence", "evidence_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="output folder(s) holding the test videos' evidence (repeat it)")
@click.option("--compare", is_flag=True, help="also train concat, sum and attention heads on the same split and "
                                              "print them side by side")
@click.option("--json", "as_json", is_flag=True, help="print the numbers as JSON")
def evaluate(head: str, labels_path: str, evidence_dirs: tuple[str, ...], compare: bool, as_json: bool) -> int:
    """Per-label AP, mAP and F1 at the stored thresholds on the head's test videos, and what fusion buys."""
    from mmvideo.train.report import ablation_table, compare_table, label_table
    from mmvideo.train.workflow import evaluate as run_evaluation

    ev = run_evaluation(head, labels_path, list(evidence_dirs), compare=compare,
                        progress=lambda line: click.echo(line, err=True))
    if as_json:
        out = {"labels": ev.labels, "thresholds": ev.thresholds, "test_segments": len(ev.test),
               "rows": [r.to_json() for r in ev.rows]}
        if ev.compare:
            out["compare"] = {f: [r.to_json() for r in rows] for f, rows in ev.compare.items()}
        click.echo(json.dumps(out, indent=1))
        return 0
    click.echo(f"{head}: {len(set(ev.test.video_ids.tolist()))} test videos, {len(ev.test)} segments\n")
    click.echo(label_table(ev.rows[0], ev.labels, ev.thresholds, ev.test.targets.sum(axis=0)) + "\n")
    click.echo(ablation_table(ev.rows, ev.labels))
    if ev.compare:
        click.echo("\n" + compare_table(ev.compare, ev.compare_seconds))
    return 0
