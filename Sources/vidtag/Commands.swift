import ArgumentParser

let vidtagVersion = "0.1.0"

/// Every `vidtag` subcommand, one file each in Sources/vidtag/.
let vidtagCommands: [ParsableCommand.Type] = [
    DoctorCommand.self,
    MakeDemoCommand.self,
    MakeScaleDataCommand.self,
    TrainCommand.self,
    PretrainCommand.self,
    EvaluateCommand.self,
    PredictCommand.self,
    PseudoLabelCommand.self,
    PrintConfigCommand.self,
    CheckSubmissionCommand.self,
    TuneBoostCommand.self,
    TuneWeightsCommand.self,
    AverageCommand.self,
    ScoreCommand.self,
    ExtractFeaturesCommand.self,
    ConvertCheckpointCommand.self,
    ServeCommand.self,
]
