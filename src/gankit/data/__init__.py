"""Datasets: MNIST-style IDX images, the embedded 5k digits, and 2D toy distributions."""

from gankit.data.sets import (
    DATASETS,
    Dataset,
    DistributionData,
    ReferenceSplit,
    TensorData,
    conditional_classes,
    dataset_summary,
    evaluable_datasets,
    load_dataset,
    register_dataset,
    register_mixture,
    to_pixels,
)

__all__ = ["DATASETS", "Dataset", "DistributionData", "ReferenceSplit", "TensorData", "conditional_classes",
           "dataset_summary", "evaluable_datasets", "load_dataset", "register_dataset", "register_mixture", "to_pixels"]
