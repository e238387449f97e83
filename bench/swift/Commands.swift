import ArgumentParser

/// Every benchmark subcommand, one file each in bench/swift/.
let benchmarkCommands: [ParsableCommand.Type] = [
    AnnotationReadBench.self,
    BertBench.self,
    BertLayerBench.self,
    FeatureReadBench.self,
    FramesBench.self,
    InferBench.self,
    LoaderBench.self,
    TokenizerBench.self,
    TrainStepBench.self,
    PretrainStepBench.self,
    ViTBench.self,
]
