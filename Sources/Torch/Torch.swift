public enum TorchModule {}
