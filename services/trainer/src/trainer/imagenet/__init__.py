"""The ImageNet (ILSVRC2012) run type: data preparation, the ResNet-50 recipe, throughput, Job manifests.

- ``prepare``: ``python -m trainer.imagenet.prepare`` turns the ILSVRC2012 train/val tars and the devkit's
  ground truth into one folder per class (and optionally pre-resized shards); a Kubernetes Job entrypoint.
- ``train``: ``torchrun ... -m trainer.imagenet.train`` trains ResNet-50 from scratch under DDP.
"""
