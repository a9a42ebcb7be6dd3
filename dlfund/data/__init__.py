"""Data readers: IDX (MNIST, Fashion-MNIST), the bundled MNIST sample, CIFAR-10."""
