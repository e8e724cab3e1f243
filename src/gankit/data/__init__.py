"""Datasets: MNIST-style IDX images, the embedded 5k digits, and 2D toy distributions."""

from gankit.data.sets import DATASETS, DistributionData, TensorData, conditional_classes, load_dataset, to_pixels

__all__ = ["DATASETS", "DistributionData", "TensorData", "conditional_classes", "load_dataset", "to_pixels"]
