using System.Diagnostics;
using Fulcrum.Config;
using Fulcrum.Linux;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Vrrp;

/// <summary>
/// track_interface and track_script (vrrp_script with interval, timeout, weight, rise, fall, init_fail) for
/// the instances of one <see cref="VrrpService"/>. Polled from the VRRP thread: interface state by ioctl,
/// scripts as child processes started there (so in its namespace) and reaped by polling, never by callback.
/// </summary>
internal sealed class VrrpTracking : IDisposable
{
    private static readonly TimeSpan InterfaceCheckInterval = TimeSpan.FromMilliseconds(100);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _origin;
    private readonly Dictionary<string, ScriptState> _scripts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _interfaces = new(StringComparer.Ordinal);
    private readonly List<(VrrpInstance Instance, Fulcrum.Config.VrrpInstance Config)> _instances = [];
    private TimeSpan _nextInterfaceCheck;

    public VrrpTracking(KeepalivedConfiguration configuration, TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
        _origin = time.GetTimestamp();
        foreach (var s in configuration.VrrpScripts)
            _scripts[s.Name] = new ScriptState(s);
    }

    private TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>
    /// A reload: tracks <paramref name="instances"/> under <paramref name="configuration"/>'s vrrp_scripts. A
    /// script whose declaration is unchanged keeps its state (up or down, its rise/fall streak, a run in
    /// progress), and an interface keeps its last state, so a reload alone never changes a priority.
    /// </summary>
    public void Reconfigure(KeepalivedConfiguration configuration, IReadOnlyList<(VrrpInstance Instance, Fulcrum.Config.VrrpInstance Config)> instances)
    {
        var scripts = new Dictionary<string, ScriptState>(StringComparer.Ordinal);
        foreach (var s in configuration.VrrpScripts)
        {
            if (_scripts.Remove(s.Name, out var kept) && kept.Config with { Location = s.Location } == s)
            {
                scripts[s.Name] = kept;
            }
            else
            {
                kept?.Dispose();
                scripts[s.Name] = new ScriptState(s);
            }
        }

        foreach (var gone in _scripts.Values)
            gone.Dispose();
        _scripts.Clear();
        foreach (var (name, state) in scripts)
            _scripts[name] = state;

        var interfaces = new Dictionary<string, bool>(_interfaces, StringComparer.Ordinal);
        _interfaces.Clear();
        _instances.Clear();
        foreach (var (instance, config) in instances)
        {
            Add(instance, config);
            foreach (var t in config.TrackInterfaces)
            {
                if (interfaces.TryGetValue(t.Name, out bool up))
                    _interfaces[t.Name] = up;
            }
        }
    }

    public void Add(VrrpInstance instance, Fulcrum.Config.VrrpInstance config)
    {
        _instances.Add((instance, config));
        foreach (var t in config.TrackInterfaces)
            _interfaces.TryAdd(t.Name, true);
        foreach (var t in config.TrackScripts)
        {
            if (!_scripts.ContainsKey(t.Name))
                _logger.LogWarning("({Instance}) track_script {Script} has no vrrp_script; ignored", config.Name, t.Name);
        }
    }

    /// <summary>
    /// What a tracked object adds to the priority (keepalived vrrp_track.c): weight 0 makes a failure a FAULT;
    /// a positive weight is added while the object is up, a negative one while it is down; `reverse` swaps up and down.
    /// </summary>
    public static int Contribution(int weight, bool reverse, bool up, out bool fault)
    {
        fault = weight == 0 && !up;
        if (weight == 0)
            return 0;
        bool counts = (weight > 0) ^ reverse ? up : !up;
        return counts ? weight : 0;
    }

    /// <summary>Checks interfaces, starts and reaps scripts, and applies fault and weights to every instance.</summary>
    public void Poll()
    {
        var now = Now;
        if (_interfaces.Count > 0 && now >= _nextInterfaceCheck)
        {
            _nextInterfaceCheck = now + InterfaceCheckInterval;
            foreach (var name in _interfaces.Keys)
            {
                bool up = SafeIsUp(name);
                if (up != _interfaces[name])
                    _logger.LogInformation("tracked interface {Interface} is {State}", name, up ? "UP" : "DOWN");
                _interfaces[name] = up;
            }
        }

        foreach (var script in _scripts.Values)
            script.Poll(now, _logger);

        foreach (var (instance, config) in _instances)
        {
            bool fault = false;
            int adjustment = 0;
            foreach (var t in config.TrackInterfaces)
            {
                adjustment += Contribution(t.Weight, t.Reverse, _interfaces[t.Name], out bool f);
                fault |= f;
            }

            foreach (var t in config.TrackScripts)
            {
                if (!_scripts.TryGetValue(t.Name, out var script))
                    continue;
                adjustment += Contribution(t.Weight ?? script.Config.Weight, t.Weight is null ? script.Config.WeightReverse : t.Reverse, script.Up, out bool f);
                fault |= f;
            }

            instance.SetFault(fault);
            if (!fault)
                instance.SetPriorityAdjustment(adjustment);
        }
    }

    public void Dispose()
    {
        foreach (var s in _scripts.Values)
            s.Dispose();
    }

    private bool SafeIsUp(string name)
    {
        try
        {
            return NetInterfaceState.IsUp(name);
        }
        catch (LinuxException e)
        {
            _logger.LogWarning("tracked interface {Interface}: {Error}", name, e.Message);
            return false;
        }
    }

    private sealed class ScriptState(VrrpScript config) : IDisposable
    {
        private Process? _running;
        private TimeSpan _startedAt;
        private TimeSpan _nextRun;
        private int _streak;

        public VrrpScript Config { get; } = config;

        public bool Up { get; private set; } = !config.InitFail;

        public void Poll(TimeSpan now, ILogger logger)
        {
            if (_running is { } p)
            {
                TimeSpan timeout = Config.Timeout > TimeSpan.Zero ? Config.Timeout : Config.Interval;
                if (p.HasExited)
                {
                    Result(p.ExitCode == 0, logger);
                }
                else if (now - _startedAt > timeout)
                {
                    p.Kill(entireProcessTree: true);
                    Result(false, logger);
                }
                else
                {
                    return;
                }

                p.Dispose();
                _running = null;
            }

            if (now < _nextRun)
                return;
            _nextRun = now + Config.Interval;
            _startedAt = now;
            try
            {
                var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
                psi.ArgumentList.Add("-c");
                psi.ArgumentList.Add(Config.Script);
                _running = Process.Start(psi);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                logger.LogWarning("vrrp_script {Script} failed to start: {Error}", Config.Name, e.Message);
                Result(false, logger);
            }
        }

        public void Dispose()
        {
            if (_running is { HasExited: false })
                _running.Kill(entireProcessTree: true);
            _running?.Dispose();
        }

        // rise consecutive successes bring a failed script up; fall consecutive failures take it down.
        private void Result(bool success, ILogger logger)
        {
            if (success == Up)
            {
                _streak = 0;
                return;
            }

            _streak++;
            if (_streak >= (success ? Config.Rise : Config.Fall))
            {
                Up = success;
                _streak = 0;
                logger.LogInformation("VRRP_Script({Script}) {Result}", Config.Name, success ? "succeeded" : "failed");
            }
        }
    }
}
