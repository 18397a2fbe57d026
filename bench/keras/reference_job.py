"""The reference-sized job in real Keras, for side-by-side figures with
deno-transfer (bench/keras/run.sh runs both on the same generated data).

Same data (`.cache/bench/reference-3000`: 2,000 train / 1,000 validation
JPEGs, 500x375, two classes, made by `bench/reference_job.ts`), same model
(MobileNetV2 1.0 at 160x160 without top, random weights -- Keras' ImageNet
file cannot be downloaded here; the compute is the same -- frozen, GAP +
Dense(2, softmax)), batch 32, Adam 1e-4, 10 epochs, as in the TensorFlow
tutorial:

- frozen:     the base frozen, no augmentation;
- augmented:  RandomFlip("horizontal") + RandomRotation(0.2) before the base;
- fine_tune:  frozen 10 epochs, then layers 100.. unfrozen (the base called
              with training=False, as the tutorial does), RMSprop 1e-5,
              10 more epochs.
- tutorial:   the TensorFlow tutorial as written (configs/tutorial.json):
              augmentation, Dropout(0.2) + Dense(1) logit head with
              BinaryCrossentropy(from_logits=True), 10 frozen epochs, then 10
              fine-tuning epochs from layer 100 with RMSprop 1e-5.

Prints one JSON object per case: wall seconds (data pipeline, model build
and fit included) and the last epoch's metrics.

Usage: <venv>/bin/python bench/keras/reference_job.py [--data DIR]
       [--cases frozen,augmented,fine_tune,tutorial] [--epochs 10]
(make the venv with ../shared/tools/keras-venv.sh; CI never runs this).
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--data", default=".cache/bench/reference-3000")
parser.add_argument("--cases", default="frozen,augmented,fine_tune")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

SIZE = (160, 160)


def datasets(label_mode):
    train = keras.utils.image_dataset_from_directory(
        os.path.join(args.data, "train"), image_size=SIZE, batch_size=32,
        label_mode=label_mode, shuffle=True, seed=42, verbose=False)
    val = keras.utils.image_dataset_from_directory(
        os.path.join(args.data, "validation"), image_size=SIZE, batch_size=32,
        label_mode=label_mode, shuffle=False, verbose=False)
    auto = tf.data.AUTOTUNE
    return train.prefetch(auto), val.prefetch(auto)


def build(augment, logit_head):
    keras.utils.set_random_seed(42)
    base = keras.applications.MobileNetV2(
        input_shape=SIZE + (3,), include_top=False, weights=None)
    base.trainable = False
    inputs = keras.Input(SIZE + (3,))
    x = inputs
    if augment:
        x = keras.layers.RandomFlip("horizontal")(x)
        x = keras.layers.RandomRotation(0.2)(x)
    x = keras.applications.mobilenet_v2.preprocess_input(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if logit_head:
        x = keras.layers.Dropout(0.2)(x)
        outputs = keras.layers.Dense(1)(x)
    else:
        outputs = keras.layers.Dense(2, activation="softmax")(x)
    return base, keras.Model(inputs, outputs)


def loss_and_metrics(logit_head):
    if logit_head:
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    return "categorical_crossentropy", ["accuracy"]


def run(case):
    started = time.perf_counter()
    tutorial = case == "tutorial"
    train, val = datasets("binary" if tutorial else "categorical")
    base, model = build(augment=case in ("augmented", "tutorial"),
                        logit_head=tutorial)
    loss, metrics = loss_and_metrics(tutorial)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss,
                  metrics=metrics)
    history = model.fit(train, validation_data=val, epochs=args.epochs,
                        verbose=0)
    frozen_seconds = time.perf_counter() - started
    two_stage = case in ("fine_tune", "tutorial")
    if two_stage:
        base.trainable = True
        for layer in base.layers[:100]:
            layer.trainable = False
        loss, metrics = loss_and_metrics(tutorial)
        model.compile(optimizer=keras.optimizers.RMSprop(1e-5), loss=loss,
                      metrics=metrics)
        history = model.fit(train, validation_data=val,
                            epochs=2 * args.epochs,
                            initial_epoch=args.epochs, verbose=0)
    last = {k: float(v[-1]) for k, v in history.history.items()}
    return {
        "engine": "keras",
        "case": case,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "epochs": args.epochs * (2 if two_stage else 1),
        "wallSeconds": round(time.perf_counter() - started, 1),
        "frozenStageSeconds": round(frozen_seconds, 1),
        "final": last,
    }


for case in args.cases.split(","):
    print(json.dumps(run(case.strip())), flush=True)
