/// The vidtag data layer: annotations, labels, text, features, frames, sampling, loading, metric.
public enum VidTagDataModule {}
