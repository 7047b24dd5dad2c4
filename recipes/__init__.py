from recipes.data import DatasetInfo, few_labels, info, load  # noqa: F401
from recipes.tta import TTAClassifier, view_names, views  # noqa: F401
from recipes.distillation import Distiller  # noqa: F401
from recipes.losses import DistillationKL  # noqa: F401
from recipes.transfer import TransferClassifier, build_classifier, fit_transfer  # noqa: F401
from recipes.layers import StochasticDepth  # noqa: F401
from recipes.noisy_student import PseudoLabels, RoundRecord, pseudo_label, run_noisy_student  # noqa: F401
