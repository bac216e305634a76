"""The judge classifiers of benchmarks/quality.py live in the training package (training/judge.py), so that
`python -m training evaluate` and this benchmark use the same judges; the names stay importable from here."""
from training.judge import (ARCH_VERSION, JUDGES, SmallCNN, WideCNN, accuracy, classify, judge,  # noqa: F401
                            load_or_train, train_classifier)
