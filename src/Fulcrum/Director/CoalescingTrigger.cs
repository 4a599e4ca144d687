namespace Fulcrum.Director;

/// <summary>
/// Runs a piece of control-plane work off the caller's thread, at most one run at a time, folding
/// every request that arrives during a run into one more run. `ipvsadm -R` of thousands of lines
/// raises thousands of change events; the kernel rules and neighbour lookups they trigger need to
/// be brought up to date once per burst, not once per line.
/// </summary>
internal sealed class CoalescingTrigger
{
    private readonly Action _work;
    private readonly Action<Exception> _onError;
    private int _state; // 0 idle, 1 running, 2 running with another run requested

    public CoalescingTrigger(Action work, Action<Exception> onError)
    {
        _work = work;
        _onError = onError;
    }

    public void Fire()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == 2)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _state, state + 1, state) == state)
            {
                if (state == 0)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static t => t.Run(), this, preferLocal: false);
                }

                return;
            }
        }
    }

    private void Run()
    {
        do
        {
            // From here on, a new Fire() asks for another run (state 2 → back to 1 for that run).
            Volatile.Write(ref _state, 1);
            try
            {
                _work();
            }
            catch (Exception ex)
            {
                _onError(ex);
            }
        }
        while (Interlocked.CompareExchange(ref _state, 0, 1) != 1);
    }
}
