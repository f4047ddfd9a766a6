"""`mmvideo train --labels L --evidence OUT --out HEAD`: a fusion head trained on your own labelled segments."""

from __future__ import annotations

import click

from mmvideo.train import FUSIONS


@click.command(epilog="Exit codes: 0 trained; 2 usage or setup error (bad labels row, missing evidence, a label "
                      "with too few videos).")
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True),
              help="CSV or Parquet of video,start,end,label rows (video: a path relative to the file, or a "
                   "content id), or a folder per class (DIR/<label>/*.mp4)")
@click.option("--evidence", "evidence_dirs", required=True, multiple=True, type=click.Path(file_okay=False),
              help="output folder(s) of `mmvideo run --evidence` (repeat it); labelled videos without evidence "
                   "are run into the first")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="the head folder to write")
@click.option("--fusion", type=click.Choice(FUSIONS), default="attention", show_default=True,
              help="attention: label queries over every item; concat: per-modality means and an MLP; sum: "
                   "learned per-modality weights")
@click.option("--exclusive", is_flag=True, help="one label per segment (softmax) instead of independent labels")
@click.option("--seed", type=int, default=0, show_default=True, help="split and initialisation seed")
@click.option("--epochs", type=click.IntRange(1, 10000), default=100, show_default=True, help="at most")
@click.option("--patience", type=click.IntRange(1, 1000), default=15, show_default=True,
              help="stop after this many epochs without a better validation mAP or loss")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=16, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=3e-3,
              show_default=True)
@click.option("--width", type=click.IntRange(4, 1024), default=64, show_default=True, help="token width")
@click.option("--modality-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.3, show_default=True,
              help="chance of dropping each modality of a segment while training")
@click.option("--split", "split_text", default="0.6,0.2,0.2", show_default=True, metavar="TRAIN,VAL,TEST",
              help="shares of the videos in train, validation and test")
@click.option("--quiet", "-q", is_flag=True, help="no per-epoch lines")
def train(labels_path: str, evidence_dirs: tuple[str, ...], out: str, fusion: str, exclusive: bool, seed: int,
          epochs: int, patience: int, batch_size: int, learning_rate: float, width: int, modality_dropout: float,
          split_text: str, quiet: bool) -> int:
    """Train a fusion head on labelled segments from evidence files; writes HEAD (model, labels, card)."""
    from mmvideo.train.fit import Hyperparameters
    from mmvideo.train.report import ablation_table
    from mmvideo.train.workflow import train as run_training

    hp = Hyperparameters(fusion=fusion, width=width, hidden=width, epochs=epochs, patience=patience,
                         batch_size=batch_size, learning_rate=learning_rate, modality_dropout=modality_dropout,
                         exclusive=exclusive, seed=seed)
    try:
        fractions = tuple(float(x) for x in split_text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected three numbers like 0.6,0.2,0.2. Received: {split_text!r}",
                                 param_hint="--split") from None
    echo = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    result = run_training(labels_path, list(evidence_dirs), out, hp, fractions=fractions, progress=echo)
    fit = result["fit"]
    click.echo(f"head {out} ({result['hash']}): {fit['epochs_run']} epochs in {fit['seconds']:.1f} s, best "
               f"{fit['best_epoch']}, validation mAP {fit['validation_map']:.3f}; test videos "
               f"{len(result['split']['test'])}")
    click.echo(ablation_table(result["rows"], result["labels"]))
    return 0
