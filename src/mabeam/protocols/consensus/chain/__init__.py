"""Proof-of-authority blockchain after Clique (EIP-225): pure validators plus actors.

:class:`Validator` is sans-IO (``step`` / ``tick`` / ``deadline`` / ``ready``) over a
:class:`BlockTree` (fork choice, signing limit, finality); :mod:`.block` hashes and seals;
:class:`ChainCluster` (in :mod:`.api`) runs validators as actors for application code.
"""

from .api import ChainCluster as ChainCluster
from .api import ChainView as ChainView
from .api import FinalityTimeoutError as FinalityTimeoutError
from .api import Finalized as Finalized
from .block import Keyring as Keyring
from .block import block_hash as block_hash
from .block import genesis as genesis
from .messages import Block as Block
from .messages import BlockRequest as BlockRequest
from .messages import Blocks as Blocks
from .messages import NewBlock as NewBlock
from .messages import Submit as Submit
from .messages import Tx as Tx
from .tree import BlockTree as BlockTree
from .tree import signing_limit as signing_limit
from .validator import ChainConfig as ChainConfig
from .validator import Ready as Ready
from .validator import Validator as Validator

__all__ = [
    "Block",
    "BlockRequest",
    "BlockTree",
    "Blocks",
    "ChainCluster",
    "ChainConfig",
    "ChainView",
    "FinalityTimeoutError",
    "Finalized",
    "Keyring",
    "NewBlock",
    "Ready",
    "Submit",
    "Tx",
    "Validator",
    "block_hash",
    "genesis",
    "signing_limit",
]
