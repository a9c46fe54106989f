-- The court list of a sitting day is found from the dates results and charges name: the next
-- hearing an adjourned case was given, the court date a charge or bail decision set, an order's
-- review date, and the day a result was for. Indexed so a busy court's list is found without
-- scanning the projections.
CREATE INDEX hearings_next_date ON hearings (next_hearing_date) WHERE next_hearing_date IS NOT NULL;
CREATE INDEX charges_next_court_date ON charges (next_court_date) WHERE next_court_date IS NOT NULL;
CREATE INDEX bail_decisions_next_court_date ON bail_decisions (next_court_date) WHERE next_court_date IS NOT NULL;
CREATE INDEX orders_review_date ON orders (review_date) WHERE review_date IS NOT NULL;
