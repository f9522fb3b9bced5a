import DatoCore
