"""Joint assignment of ready tracks to identities: the Hungarian method with gating and a confidence margin.

Each track (row) may take one gated identity (column) or start a new identity, which scores
`new_score` (the match threshold) and is private to that row; each identity takes at most one track per
batch. The total score is maximised with `scipy.optimize.linear_sum_assignment`.

The confidence of a decision is what the optimum loses when that decision is forbidden: a track matched
to its identity by a wide margin over every other *joint* arrangement is safe to commit; a close call
(lookalikes competing for one identity, a similarity just above or below the threshold) is deferred.
The problem splits into connected components (tracks that share candidate identities), so the cost stays
small even with thousands of identities: each component is solved on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

NEW = -1
"""`Decision.column` of a track that starts a new identity."""

_FORBIDDEN = -1e6


@dataclass(frozen=True, slots=True)
class Decision:
    """row: the track's row in the score matrix; column: identity column or `NEW`;
    score: the chosen score (`new_score` for NEW); margin: how much the joint optimum drops if this
    decision is forbidden (inf when there is no alternative at all)."""

    row: int
    column: int
    score: float
    margin: float


def assign_jointly(
    scores: np.ndarray, feasible: np.ndarray, *, new_score: float, margin: float
) -> list[Decision]:
    """Best joint assignment of m tracks to K identities, one `Decision` per row, in row order.

    scores: (m, K) similarity plus bonuses. feasible: (m, K) bool gating. Pairs scoring below
    `new_score - margin` are ignored (they can neither win nor make a decision doubtful).
    """
    scores = np.asarray(scores, dtype=np.float64)
    m = scores.shape[0]
    if m == 0:
        return []
    candidate = np.asarray(feasible, dtype=bool) & (scores >= new_score - margin)
    decisions: list[Decision | None] = [None] * m
    rows_with, cols_with = np.nonzero(candidate)
    columns = np.unique(cols_with)
    col_index = np.searchsorted(columns, cols_with)
    # Bipartite graph: rows 0..m-1, then the used columns; its components are independent problems.
    graph = coo_matrix((np.ones(len(rows_with)), (rows_with, m + col_index)), shape=(m + len(columns),) * 2)
    _, labels = connected_components(graph, directed=False)
    row_labels = labels[:m]
    sizes = np.bincount(row_labels, minlength=labels.max() + 1)
    alone = sizes[row_labels] == 1
    for row, decision in zip(
        np.flatnonzero(alone), _alone(scores[alone], candidate[alone], new_score), strict=True
    ):
        decisions[row] = Decision(int(row), decision.column, decision.score, decision.margin)
    for label in np.unique(row_labels[~alone]):
        rows = np.flatnonzero(row_labels == label)
        cols = columns[np.flatnonzero(labels[m:] == label)]
        for decision in _solve(scores[np.ix_(rows, cols)], candidate[np.ix_(rows, cols)], new_score):
            column = NEW if decision.column == NEW else int(cols[decision.column])
            decisions[rows[decision.row]] = Decision(
                int(rows[decision.row]), column, decision.score, decision.margin
            )
    return [d for d in decisions if d is not None]


def _alone(scores: np.ndarray, candidate: np.ndarray, new_score: float) -> list[Decision]:
    """Rows that compete with no other row (the common case), all at once: best option vs the runner-up."""
    masked = np.where(candidate, scores, -np.inf)
    if masked.shape[1] == 0:
        masked = np.full((len(masked), 1), -np.inf)
    best_column = masked.argmax(axis=1)
    best = masked[np.arange(len(masked)), best_column]
    masked[np.arange(len(masked)), best_column] = -np.inf
    runner_up = masked.max(axis=1)
    decisions = []
    for column, top, second in zip(best_column.tolist(), best.tolist(), runner_up.tolist(), strict=True):
        if top > new_score:
            decisions.append(Decision(0, column, top, top - max(second, new_score)))
        else:
            decisions.append(Decision(0, NEW, new_score, new_score - top))  # inf when no option at all
    return decisions


def _solve(scores: np.ndarray, candidate: np.ndarray, new_score: float) -> list[Decision]:
    """One component: rows x (identity columns + one private "new" column per row)."""
    r, k = scores.shape
    weights = np.full((r, k + r), _FORBIDDEN)
    weights[:, :k] = np.where(candidate, scores, _FORBIDDEN)
    weights[np.arange(r), k + np.arange(r)] = new_score
    best_rows, best_cols = linear_sum_assignment(weights, maximize=True)
    total = weights[best_rows, best_cols].sum()
    decisions = []
    for row, col in zip(best_rows, best_cols, strict=True):
        forbidden = weights.copy()
        forbidden[row, col] = _FORBIDDEN
        alt_rows, alt_cols = linear_sum_assignment(forbidden, maximize=True)
        alternative = forbidden[alt_rows, alt_cols].sum()
        gap = total - alternative
        margin = float("inf") if alternative <= _FORBIDDEN / 2 else float(gap)
        column = int(col) if col < k else NEW
        decisions.append(Decision(int(row), column, float(weights[row, col]), margin))
    return decisions
